//! Emulator: a local, in-memory stand-in for Sangoma CX faithful to `sangoma-cx.md` — token
//! endpoint, every API call, the status machine, webhooks out, an agent console page, and a
//! control API with fault injection for tests. Imports only `cx` wire types.
