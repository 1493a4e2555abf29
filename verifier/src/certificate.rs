//! Receipt-key certificates (XEdDSA by the Signal identity key). Placeholder: being written.
