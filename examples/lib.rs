//! Runnable examples for the workspace; see `README.md`. This library is empty: each
//! example is a `[[example]]` target of this package.
