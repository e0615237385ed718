//! A store failed: the kit's one error of every state port.

pub use handler_kit::StoreFailure;
