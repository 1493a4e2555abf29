//! # letro-prover
//!
//! Proves `delivered-within` statements with Groth16 over BN254.
//!
//! - [`Prover`] builds the constraint matrices once, then for each proof only computes the
//!   witness assignment and runs the Groth16 prover on the cached matrices. It checks the
//!   relation natively before proving (a false statement is refused with a typed error) and
//!   verifies its own proof before returning it. It is `Send + Sync`: share it across threads.
//! - [`keys`] runs a setup and reads and writes the key files and their manifest.
//! - [`msm`] is the multi-scalar multiplication of the proof's sums (Pippenger with
//!   buckets in affine coordinates and batched inversions), checked against arkworks' own;
//!   [`msm::fixed`] sums with precomputed multiples of the key's bases, for a prover that
//!   makes many proofs ([`Prover::with_tables`]).
//!
//! ## Non-features
//!
//! - No parsing of delivery records or bundles (see `letro_core::bundle`).
//! - No multi-party setup ceremony yet: `keys::setup_insecure_dev` is what its name says.
#![forbid(unsafe_code)]

pub mod embedded;
mod fft;
mod groth16;
pub mod keys;
pub mod matrices_file;
pub mod msm;
pub mod qap;

use ark_bn254::Bn254;
use ark_groth16::{
    r1cs_to_qap::LibsnarkReduction, Groth16, PreparedVerifyingKey, Proof, ProvingKey,
};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisError,
    SynthesisMode, R1CS_PREDICATE_LABEL,
};
use ark_std::rand::{CryptoRng, RngCore};
use ark_std::UniformRand;
use letro_circuits::DeliveredWithinCircuit;
use letro_core::bundle::{signed_checkpoint_text, Bundle, DeliveryRecord, Opening, ProofPoints};
use letro_core::statement::{check_relation, DeliveredWithin, DeliveryWitness, RelationError};
use letro_core::Fr;
use sha2::Digest;

/// Why a prover could not be built from a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProverSetupError {
    /// Synthesising the blank circuit failed (a bug in the circuit).
    #[error("circuit synthesis failed: {0}")]
    Synthesis(SynthesisError),
    /// The built-in constraint matrices do not decode (a damaged build).
    #[error(transparent)]
    Matrices(matrices_file::MatricesFileError),
    /// The proving key does not have the shape of the current circuit.
    #[error("the proving key does not belong to the current circuit: {0}")]
    KeyMismatch(&'static str),
}

/// Why a proof was not produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// The statement is false for this witness: nothing was proved.
    #[error("the statement does not hold: {0}")]
    FalseStatement(#[from] RelationError),
    /// Witness synthesis or the Groth16 prover failed.
    #[error("proving failed: {0}")]
    Groth16(SynthesisError),
    /// The proof did not verify under the key's own verifying key: a bug, never returned
    /// as a proof.
    #[error("internal error: the new proof does not verify under its own verifying key")]
    SelfCheckFailed,
}

/// Why a delivery record could not be turned into a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveRecordError {
    /// The record's checkpoint root is not a canonical field element.
    #[error("delivery record: {0}")]
    Record(#[from] letro_core::bundle::RecordStatementError),
    /// Proving failed or the statement is false.
    #[error(transparent)]
    Prove(#[from] ProveError),
    /// The record's checkpoint does not publish the receipt skew, or the window starts after
    /// the latest delivery time an honest log could have accepted before that checkpoint: a
    /// verifier would refuse the bundle (SPEC §8 step 4b).
    #[error("the window does not fit the record's checkpoint: {0}")]
    Window(#[from] letro_core::statement::TimeBoundsError),
    /// The verifying key could not be encoded.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// The bundle could not be encoded.
    #[error("bundle encoding: {0}")]
    Encode(#[from] letro_core::bundle::EncodeError),
}

/// A Groth16 prover for `delivered-within` with cached constraint matrices.
pub struct Prover {
    pk: ProvingKey<Bn254>,
    pvk: PreparedVerifyingKey<Bn254>,
    matrices: Vec<Matrix<Fr>>,
    num_instance_variables: usize,
    num_constraints: usize,
    layout: QapLayout,
    tables: Option<groth16::KeyTables>,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover")
            .field("num_constraints", &self.num_constraints)
            .field("num_instance_variables", &self.num_instance_variables)
            .finish_non_exhaustive()
    }
}

/// Runs `f` (circuit synthesis) with tracing switched off on this thread. arkworks'
/// constraint code is `#[instrument(target = "gr1cs")]` at info level, with the gadgets'
/// arguments, witness values included, recorded as span fields: under an application's
/// subscriber that would put the blinding and the receipt key in its logs, and make a proof
/// minutes long.
fn untraced<T>(f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
}

fn new_cs(mode: SynthesisMode) -> ark_relations::gr1cs::ConstraintSystemRef<Fr> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(mode);
    cs
}

/// The circuit's constraint system as the prover uses it: `a`, `b`, `c` with one row per
/// constraint, each row sorted by variable with no repeated variable and no zero coefficient.
/// Variables are numbered as Groth16 numbers them: `0` is the constant one, `1..=6` the public
/// inputs in the statement's order, then the witness variables in allocation order. The
/// ceremony's `.r1cs` export writes exactly these rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrices {
    /// The three matrices `a`, `b`, `c`.
    pub abc: [Matrix<Fr>; 3],
    /// Instance variables, the constant one included.
    pub num_instance_variables: usize,
    /// Witness variables.
    pub num_witness_variables: usize,
}

impl Matrices {
    /// Synthesises the blank circuit.
    pub fn of_circuit() -> Result<Self, ProverSetupError> {
        let cs = new_cs(SynthesisMode::Setup);
        untraced(|| DeliveredWithinCircuit::blank().generate_constraints(cs.clone()))
            .map_err(ProverSetupError::Synthesis)?;
        cs.finalize();
        let num_instance_variables = cs.num_instance_variables();
        let num_witness_variables = cs.num_witness_variables();
        let matrices = cs
            .to_matrices()
            .map_err(ProverSetupError::Synthesis)?
            .remove(R1CS_PREDICATE_LABEL)
            .ok_or(ProverSetupError::KeyMismatch("no R1CS matrices"))?;
        let [a, b, c]: [Matrix<Fr>; 3] = matrices
            .try_into()
            .map_err(|_| ProverSetupError::KeyMismatch("expected three R1CS matrices"))?;
        if a.len() != b.len() || b.len() != c.len() {
            return Err(ProverSetupError::KeyMismatch(
                "matrices of different heights",
            ));
        }
        Ok(Self {
            abc: [canonical(a), canonical(b), canonical(c)],
            num_instance_variables,
            num_witness_variables,
        })
    }

    /// Number of constraints.
    pub fn num_constraints(&self) -> usize {
        self.abc[0].len()
    }

    /// Number of variables, the constant one included.
    pub fn num_variables(&self) -> usize {
        self.num_instance_variables + self.num_witness_variables
    }

    /// The size of the evaluation domain: the least power of two that holds a row per
    /// constraint and per instance variable.
    pub fn domain_size(&self) -> usize {
        (self.num_constraints() + self.num_instance_variables).next_power_of_two()
    }
}

/// Each row sorted by variable, repeated variables summed, zero coefficients dropped.
fn canonical(m: Matrix<Fr>) -> Matrix<Fr> {
    m.into_iter()
        .map(|mut row| {
            row.sort_by_key(|(_, v)| *v);
            let mut out: Vec<(Fr, usize)> = Vec::with_capacity(row.len());
            for (coeff, var) in row {
                match out.last_mut() {
                    Some((c, v)) if *v == var => *c += coeff,
                    _ => out.push((coeff, var)),
                }
            }
            out.retain(|(c, _)| !ark_ff::Zero::is_zero(c));
            out
        })
        .collect()
}

/// Which R1CS-to-QAP reduction a proving key was made for, told apart by its `h_query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QapLayout {
    /// arkworks' (libsnark's) reduction: `h_query` holds `τ^i·Z(τ)/δ` for `i < n - 1`.
    Libsnark,
    /// snarkjs's: `h_query` holds the odd Lagrange basis of the domain of size `2n` over `δ`,
    /// `n` points (keys from a `.zkey` ceremony).
    Snarkjs,
}

/// Which code computes the proof points from the assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofAssembly {
    /// The witness map and the five multi-scalar multiplications side by side (the default).
    Concurrent,
    /// arkworks' `create_proof_with_reduction_and_matrices`, one part after the other.
    Arkworks,
}

impl Prover {
    /// A prover on the built-in constraint matrices of the current circuit
    /// ([`matrices_file`]); checks that `pk` fits them.
    pub fn new(pk: ProvingKey<Bn254>) -> Result<Self, ProverSetupError> {
        let m = Matrices::built_in().map_err(ProverSetupError::Matrices)?;
        Self::with_matrices(pk, m)
    }

    /// A prover on the given matrices (e.g. [`Matrices::of_circuit`], a fresh synthesis);
    /// checks that `pk` fits them.
    pub fn with_matrices(pk: ProvingKey<Bn254>, m: Matrices) -> Result<Self, ProverSetupError> {
        let num_instance_variables = m.num_instance_variables;
        let num_constraints = m.num_constraints();
        if pk.vk.gamma_abc_g1.len() != num_instance_variables {
            return Err(ProverSetupError::KeyMismatch(
                "number of public inputs differs",
            ));
        }
        let num_witness = m.num_witness_variables;
        if pk.l_query.len() != num_witness {
            return Err(ProverSetupError::KeyMismatch(
                "number of witness variables differs",
            ));
        }
        if pk.a_query.len() != num_instance_variables + num_witness {
            return Err(ProverSetupError::KeyMismatch("number of variables differs"));
        }
        let n = m.domain_size();
        let layout = if pk.h_query.len() == n {
            QapLayout::Snarkjs
        } else if pk.h_query.len() + 1 == n {
            QapLayout::Libsnark
        } else {
            return Err(ProverSetupError::KeyMismatch(
                "the H query fits neither QAP layout",
            ));
        };
        let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
        let [a, b, c] = m.abc;
        Ok(Self {
            pk,
            pvk,
            matrices: vec![a, b, c],
            num_instance_variables,
            num_constraints,
            layout,
            tables: None,
        })
    }

    /// This prover with tables of the proving key's multiples for fixed-base sums
    /// ([`msm::fixed`], windows of `widths` bits, [`msm::fixed::Widths::DEFAULT`] the measured
    /// best): faster proofs for a prover that makes many, at the cost of building them (about
    /// 2 s on two cores for the built-in key) and of their memory
    /// ([`Prover::tables_size_bytes`], about 82 MB for the built-in key at the default
    /// widths). The proofs are the same points.
    pub fn with_tables(mut self, widths: msm::fixed::Widths) -> Self {
        self.tables = Some(groth16::KeyTables::new(&self.pk, widths));
        self
    }

    /// The memory of the tables of [`Prover::with_tables`] in bytes; 0 without them.
    pub fn tables_size_bytes(&self) -> usize {
        self.tables
            .as_ref()
            .map_or(0, groth16::KeyTables::size_bytes)
    }

    /// The QAP reduction of this prover's key.
    pub fn layout(&self) -> QapLayout {
        self.layout
    }

    /// Number of constraints of the circuit.
    pub fn num_constraints(&self) -> usize {
        self.num_constraints
    }

    /// The proving key.
    pub fn proving_key(&self) -> &ProvingKey<Bn254> {
        &self.pk
    }

    /// SHA-256 of the canonical compressed verifying key, as bundles name it.
    pub fn verifying_key_sha256(&self) -> Result<[u8; 32], keys::KeyError> {
        let bytes = keys::verifying_key_bytes(&self.pk.vk)?;
        Ok(sha2::Sha256::digest(&bytes).into())
    }

    /// Proves a delivery record for the window `[not_before, not_after]` and returns the
    /// encoded bundle and the opening: [`PreparedRecord::new`], then
    /// [`Prover::prove_prepared`].
    pub fn prove_record<R: RngCore + CryptoRng>(
        &self,
        record: &DeliveryRecord,
        not_before: u64,
        not_after: u64,
        rng: &mut R,
    ) -> Result<(String, Opening), ProveRecordError> {
        self.prove_prepared(&PreparedRecord::new(record, not_before, not_after)?, rng)
    }

    /// Proves a prepared record and returns the encoded bundle and the opening.
    pub fn prove_prepared<R: RngCore + CryptoRng>(
        &self,
        prepared: &PreparedRecord<'_>,
        rng: &mut R,
    ) -> Result<(String, Opening), ProveRecordError> {
        let record = prepared.record;
        let statement = &prepared.witnessed.statement;
        let proof = self.prove_witnessed(&prepared.witnessed, rng, ProofAssembly::Concurrent)?;
        let points = ProofPoints {
            a: proof.a,
            b: proof.b,
            c: proof.c,
        };
        let vk_sha256 = self.verifying_key_sha256()?;
        let checkpoint = signed_checkpoint_text(&record.checkpoint);
        let bundle = Bundle::encode(
            statement,
            &checkpoint,
            &points,
            &vk_sha256,
            &record.timestamps,
        )?;
        Ok((bundle, record.opening()))
    }

    /// Proves `statement` with `witness`. Refuses a false statement before proving, and
    /// verifies the proof before returning it.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        statement: &DeliveredWithin,
        witness: &DeliveryWitness,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProveError> {
        self.prove_with_assembly(statement, witness, rng, ProofAssembly::Concurrent)
    }

    /// [`Prover::prove`] with a choice of the last step's code; both give the same proof for
    /// the same random numbers (a test checks it). For benchmarks and tests.
    pub fn prove_with_assembly<R: RngCore + CryptoRng>(
        &self,
        statement: &DeliveredWithin,
        witness: &DeliveryWitness,
        rng: &mut R,
        assembly: ProofAssembly,
    ) -> Result<Proof<Bn254>, ProveError> {
        self.prove_witnessed(&Witnessed::new(statement, witness)?, rng, assembly)
    }

    /// Proves a witnessed statement; verifies the proof before returning it.
    fn prove_witnessed<R: RngCore + CryptoRng>(
        &self,
        witnessed: &Witnessed,
        rng: &mut R,
        assembly: ProofAssembly,
    ) -> Result<Proof<Bn254>, ProveError> {
        let (statement, full) = (&witnessed.statement, &witnessed.full);
        if witnessed.num_instance_variables != self.num_instance_variables {
            return Err(ProveError::Groth16(SynthesisError::Unsatisfiable));
        }
        let r = Fr::rand(rng);
        let s = Fr::rand(rng);
        let (pk, m, n_inst, n_cons) = (
            &self.pk,
            &self.matrices,
            self.num_instance_variables,
            self.num_constraints,
        );
        let proof = match (self.layout, assembly) {
            (QapLayout::Libsnark, ProofAssembly::Concurrent) => {
                groth16::prove::<LibsnarkReduction>(self, full, r, s)
            }
            (QapLayout::Snarkjs, ProofAssembly::Concurrent) => {
                groth16::prove::<qap::SnarkjsReduction>(self, full, r, s)
            }
            (QapLayout::Libsnark, ProofAssembly::Arkworks) => {
                Groth16::<Bn254, LibsnarkReduction>::create_proof_with_reduction_and_matrices(
                    pk, r, s, m, n_inst, n_cons, full,
                )
            }
            (QapLayout::Snarkjs, ProofAssembly::Arkworks) => {
                Groth16::<Bn254, qap::SnarkjsReduction>::create_proof_with_reduction_and_matrices(
                    pk, r, s, m, n_inst, n_cons, full,
                )
            }
        }
        .map_err(ProveError::Groth16)?;
        let inputs = statement.public_inputs();
        match Groth16::<Bn254>::verify_proof(&self.pvk, &proof, &inputs) {
            Ok(true) => Ok(proof),
            _ => Err(ProveError::SelfCheckFailed),
        }
    }
}

/// A statement with its full assignment: the relation checked natively, then the circuit's
/// witness synthesised. It needs no key, so it can be made while the prover loads (`letro
/// prove` does both at once, through [`PreparedRecord`]). It holds the witness, so its `Debug`
/// shows only the statement.
pub(crate) struct Witnessed {
    statement: DeliveredWithin,
    /// The constant one, the public inputs, then the witness variables.
    full: Vec<Fr>,
    num_instance_variables: usize,
}

impl std::fmt::Debug for Witnessed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnessed")
            .field("statement", &self.statement)
            .finish_non_exhaustive()
    }
}

impl Witnessed {
    /// Checks the relation natively (a false statement is refused with a typed error) and
    /// synthesises the circuit's assignment.
    pub(crate) fn new(
        statement: &DeliveredWithin,
        witness: &DeliveryWitness,
    ) -> Result<Self, ProveError> {
        // The native check and the synthesis need nothing from each other: they run side by
        // side, and a false relation is reported before anything the synthesis found.
        let (assignment, relation) = rayon::join(
            || synthesize(statement, witness),
            || check_relation(statement, witness),
        );
        relation?;
        let (full, num_instance_variables) = assignment?;
        Ok(Self {
            statement: *statement,
            full,
            num_instance_variables,
        })
    }
}

/// The circuit's full assignment for `statement` and `witness` (the constant one, the public
/// inputs, then the witness variables) and its number of instance variables.
fn synthesize(
    statement: &DeliveredWithin,
    witness: &DeliveryWitness,
) -> Result<(Vec<Fr>, usize), ProveError> {
    let cs = new_cs(SynthesisMode::Prove {
        construct_matrices: false,
        generate_lc_assignments: false,
    });
    untraced(|| DeliveredWithinCircuit::new(statement, witness).generate_constraints(cs.clone()))
        .map_err(ProveError::Groth16)?;
    let inner = cs
        .borrow()
        .ok_or(ProveError::Groth16(SynthesisError::MissingCS))?;
    let inst = inner.instance_assignment().map_err(ProveError::Groth16)?;
    let wit = inner.witness_assignment().map_err(ProveError::Groth16)?;
    Ok(([inst, wit].concat(), inst.len()))
}

/// A delivery record made ready to prove for a window, with no key: its statement, checked
/// against the record's checkpoint ([`letro_core::statement::time_bounds`]) and against the
/// witness natively (a false statement is refused with a typed error), and the circuit's
/// assignment synthesised. [`Prover::prove_prepared`] proves it. It holds the witness, so its
/// `Debug` shows only the statement.
pub struct PreparedRecord<'a> {
    record: &'a DeliveryRecord,
    witnessed: Witnessed,
}

impl std::fmt::Debug for PreparedRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRecord")
            .field("statement", &self.witnessed.statement)
            .finish_non_exhaustive()
    }
}

impl<'a> PreparedRecord<'a> {
    /// Prepares `record` for the window `[not_before, not_after]`.
    pub fn new(
        record: &'a DeliveryRecord,
        not_before: u64,
        not_after: u64,
    ) -> Result<Self, ProveRecordError> {
        let statement = record.statement(not_before, not_after)?;
        letro_core::statement::time_bounds(&statement, record.checkpoint.unverified_checkpoint())?;
        let witnessed = Witnessed::new(&statement, &record.witness)?;
        Ok(Self { record, witnessed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn prover_is_send_and_sync() {
        assert_send_sync::<Prover>();
    }

    /// A prepared record holds the witness; its `Debug` shows the statement and nothing secret.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_prepared_record_does_not_print_its_witness() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/records/valid.record.json"
        );
        let record = DeliveryRecord::parse(&std::fs::read(path).unwrap()).unwrap();
        let (nb, na) = (1_793_491_200, 1_795_694_400); // 2026-11-01, 2026-11-26T12:00Z
        let prepared = PreparedRecord::new(&record, nb, na).unwrap();
        let shown = format!("{prepared:?}");
        assert!(shown.contains("PreparedRecord"), "{shown}");
        assert!(shown.contains(&nb.to_string()), "{shown}");
        let w = &record.witness;
        for secret in [w.blinding, w.event_secret] {
            assert!(!shown.contains(&secret.to_string()), "{shown}");
        }
        assert!(!shown.contains(&format!("{:?}", w.blinding)), "{shown}");
    }
}
