//! Pure helpers for the worker's media proxy: which upstream URLs may be
//! fetched ([`guard`]), signed proxy URLs ([`sign`]), whether a response is a
//! manifest to rewrite ([`detect`]) and cache keys and lifetimes ([`cache`]).
//!
//! The request flow they serve: the worker decodes `/proxy/...`
//! ([`sign::decode_proxy_path`]), verifies the signature against its secret
//! and the current time ([`sign::ProxyRequest::verify`]), checks the upstream
//! URL ([`guard::check_upstream`]), fetches it (cache key from
//! [`cache::cache_key`]), and when [`detect::detect`] says it is a manifest,
//! rewrites it with [`crate::rewrite`] using [`sign::Linker`] as the map.

pub mod cache;
pub mod detect;
pub mod filter;
pub mod guard;
pub mod sign;

#[cfg(test)]
mod tests;
