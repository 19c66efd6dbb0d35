//! Widget: the Direct Line 3.0 subset that BotFramework Web Chat speaks (tokens, conversations,
//! activities, polling, WebSocket stream with replay) and the demo page. Imports `store` types only.
