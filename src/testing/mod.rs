//! Testing: the dialog transcript runner behind `botrun test` (fake clock, fixtures, mocked
//! fetch answers, coverage), and the helpers `botrun chat` and `botrun why` share.
//! Imports `engine` and `check`; no network.
