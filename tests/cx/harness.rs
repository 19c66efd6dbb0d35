//! Spawns the real emulator in-process on 127.0.0.1:0 and builds clients pointed at it.

use botrun::cx::{Credentials, CxClient, CxConfig, RetryConfig};
use botrun::emulator::{self, EmulatorOptions, RecordedCall, RunningEmulator};

pub const CLIENT_ID: &str = "botrun-dev";
pub const CLIENT_SECRET: &str = "botrun-dev-secret";

pub async fn emulator() -> RunningEmulator {
    emulator::spawn(EmulatorOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

/// Fast retries and short timeouts so fault tests finish quickly.
pub fn config(emulator: &RunningEmulator) -> CxConfig {
    let mut config = CxConfig::for_emulator(emulator.base_url(), emulator.auth_url());
    config.timeout_ms = 2_000;
    config.rate_limit_per_second = 0;
    config.retry = RetryConfig { max_attempts: 4, base_delay_ms: 20, max_delay_ms: 200 };
    config
}

pub fn client(config: CxConfig) -> CxClient {
    CxClient::with_credentials(config, Credentials::new(CLIENT_ID, CLIENT_SECRET)).unwrap()
}

/// Calls the emulator saw whose path ends with `suffix` (trailing slash ignored).
pub fn calls_to(emulator: &RunningEmulator, suffix: &str) -> Vec<RecordedCall> {
    emulator
        .control()
        .calls()
        .into_iter()
        .filter(|call| call.path.trim_end_matches('/').ends_with(suffix.trim_end_matches('/')))
        .collect()
}
