//! letro-circuits
