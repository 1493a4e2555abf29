//! letro-prover
