//! CX: the Sangoma CX Digital Interactions API client (OAuth token cache, every call of both
//! flows, tolerant decoding, retries with backoff, client-side rate limit) and its wire types.
//! Imports nothing else from botrun.
