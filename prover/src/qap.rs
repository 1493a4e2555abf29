//! The R1CS-to-QAP reduction of snarkjs, for keys from a `.zkey` ceremony.
//!
//! Both reductions put one row per constraint and one row per instance variable (in `A` only)
//! on a domain of size `n`, and both prove `A(x)·B(x) − C(x) = H(x)·Z(x)` with
//! `Z(x) = x^n − 1`. They differ in how the prover hands `H(τ)·Z(τ)/δ` to the key:
//! - arkworks computes the coefficients of `H` and the key holds `τ^i·Z(τ)/δ`;
//! - snarkjs evaluates `p = A·B − C` on the odd powers `ω^(2i+1)` of a root of unity `ω` of
//!   order `2n` and the key holds the Lagrange basis of that larger domain at those points,
//!   `L_(2i+1)(τ)/δ`. Since `p` has degree below `2n` and vanishes on the even powers (the
//!   roots of `Z`), `Σ p(ω^(2i+1))·L_(2i+1)(τ) = p(τ) = H(τ)·Z(τ)`.
//!
//! [`SnarkjsReduction::witness_map_from_matrices`] returns those `n` evaluations;
//! [`SnarkjsReduction::h_query_scalars`] gives the matching key scalars, so that arkworks'
//! generator can make keys of this layout for tests.

use ark_ff::{FftField, PrimeField};
use ark_groth16::r1cs_to_qap::{evaluate_constraint, LibsnarkReduction, R1CSToQAP};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, Matrix, SynthesisError};
use rayon::prelude::*;

use crate::fft::OddCoset;

/// snarkjs's reduction (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct SnarkjsReduction;

impl R1CSToQAP for SnarkjsReduction {
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> Result<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize), SynthesisError> {
        // The A, B and C queries are the same in both reductions.
        LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Matrix<F>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> Result<Vec<F>, SynthesisError> {
        let [ma, mb, mc] = matrices else {
            return Err(SynthesisError::Unsatisfiable);
        };
        let domain =
            D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let eval = |rows: &Matrix<F>| -> Result<Vec<F>, SynthesisError> {
            let mut v = vec![F::zero(); n];
            rows.par_iter()
                .zip(v.par_iter_mut())
                .for_each(|(row, out)| *out = evaluate_constraint(row, full_assignment));
            Ok(v)
        };
        let mut a = eval(ma)?;
        let mut b = eval(mb)?;
        let mut c = eval(mc)?;
        let inputs = full_assignment
            .get(..num_inputs)
            .ok_or(SynthesisError::AssignmentMissing)?;
        a.get_mut(num_constraints..num_constraints + num_inputs)
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?
            .copy_from_slice(inputs);
        // The odd powers of the 2n-th root of unity are the coset ω·⟨ω²⟩ of the domain.
        let odd = OddCoset::<F>::new(n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        if ![&mut a, &mut b, &mut c]
            .into_par_iter()
            .all(|v| odd.extend(v))
        {
            return Err(SynthesisError::PolynomialDegreeTooLarge);
        }
        a.par_iter_mut()
            .zip(b.par_iter())
            .zip(c.par_iter())
            .for_each(|((a, b), c)| *a = *a * b - c);
        Ok(a)
    }

    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        _zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        // L_j(t) = (t^m − 1)·ω^j / (m·(t − ω^j)) on the domain of size m = 2n, for odd j.
        let n = max_power + 1;
        let m = 2 * n as u64;
        let omega: F = <F as FftField>::get_root_of_unity(m)
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let numerator = (t.pow([m]) - F::one()) * delta_inverse;
        let m_inv = F::from(m).inverse().ok_or(SynthesisError::Unsatisfiable)?;
        let omega2 = omega.square();
        let mut w = omega;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let denom = (t - w).inverse().ok_or(SynthesisError::Unsatisfiable)?;
            out.push(numerator * w * m_inv * denom);
            w *= omega2;
        }
        Ok(out)
    }
}
