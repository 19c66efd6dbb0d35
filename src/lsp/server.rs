//! The message loop: reads requests and notifications from the editor, keeps the open buffers,
//! answers each request from a fresh [`analyse`] of the file it is about, and publishes the
//! bundle's diagnostics after every change.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CompletionOptions, DiagnosticRelatedInformation, DiagnosticSeverity, DocumentSymbolResponse,
    GotoDefinitionResponse, Hover, HoverContents, HoverProviderCapability, InitializeParams,
    Location, MarkupContent, MarkupKind, NumberOrString, OneOf, PrepareRenameResponse,
    PublishDiagnosticsParams, RenameOptions, ServerCapabilities, TextDocumentPositionParams,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};
use serde_json::Value;

use super::analysis::{analyse, Analysis};
use super::lines::{offset, range};
use super::uri::{path_of, uri_of};
use super::{complete, hover, navigate, outline, LspError};
use crate::diagnostic::{Diagnostic, Severity};

/// Runs the server on standard input and output until the editor says `exit`.
pub(crate) fn run_stdio() -> Result<(), LspError> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = serde_json::to_value(capabilities())?;
    let params: InitializeParams = serde_json::from_value(connection.initialize(capabilities)?)?;
    let mut server = Server::new(&connection, &params);
    server.run()?;
    drop(connection);
    io_threads.join()?;
    Ok(())
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: lsp_types::WorkDoneProgressOptions::default(),
        })),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["@".into(), "{".into(), ":".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

struct Server<'c> {
    connection: &'c Connection,
    /// Open buffers by URI: their path and current text.
    documents: HashMap<Uri, (PathBuf, Arc<str>)>,
    roots: Vec<PathBuf>,
    reference_url: Option<String>,
}

impl<'c> Server<'c> {
    fn new(connection: &'c Connection, params: &InitializeParams) -> Self {
        let mut roots: Vec<PathBuf> =
            params.workspace_folders.iter().flatten().filter_map(|f| path_of(&f.uri)).collect();
        #[allow(deprecated)] // older clients send only `rootUri`
        if roots.is_empty() {
            roots.extend(params.root_uri.as_ref().and_then(path_of));
        }
        let reference_url = params
            .initialization_options
            .as_ref()
            .and_then(|o| o.get("referenceUrl"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(default_reference_url);
        Self { connection, documents: HashMap::new(), roots, reference_url }
    }

    fn run(&mut self) -> Result<(), LspError> {
        for message in &self.connection.receiver {
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request)? {
                        return Ok(());
                    }
                    let response = self.answer(request);
                    self.send(Message::Response(response))?;
                }
                Message::Notification(notification) => self.notice(notification)?,
                Message::Response(_) => {}
            }
        }
        Ok(())
    }

    fn notice(&mut self, notification: Notification) -> Result<(), LspError> {
        let uri = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let params: lsp_types::DidOpenTextDocumentParams =
                    serde_json::from_value(notification.params)?;
                let doc = params.text_document;
                if let Some(path) = path_of(&doc.uri) {
                    self.documents.insert(doc.uri.clone(), (path, doc.text.into()));
                }
                doc.uri
            }
            DidChangeTextDocument::METHOD => {
                let params: lsp_types::DidChangeTextDocumentParams =
                    serde_json::from_value(notification.params)?;
                // Full sync: the last change holds the whole text.
                if let (Some(change), Some((_, text))) = (
                    params.content_changes.into_iter().last(),
                    self.documents.get_mut(&params.text_document.uri),
                ) {
                    *text = change.text.into();
                }
                params.text_document.uri
            }
            DidSaveTextDocument::METHOD => {
                let params: lsp_types::DidSaveTextDocumentParams =
                    serde_json::from_value(notification.params)?;
                params.text_document.uri
            }
            DidCloseTextDocument::METHOD => {
                let params: lsp_types::DidCloseTextDocumentParams =
                    serde_json::from_value(notification.params)?;
                self.documents.remove(&params.text_document.uri);
                self.publish(params.text_document.uri, Vec::new())?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        self.publish_for(&uri)
    }

    /// Publishes the diagnostics of every file in the bundle `uri` belongs to (empty lists too,
    /// so fixed problems disappear).
    // `Uri` caches its parse in a cell, which clippy counts as mutable; keys are never changed.
    #[allow(clippy::mutable_key_type)]
    fn publish_for(&self, uri: &Uri) -> Result<(), LspError> {
        let Some(analysis) = self.analysis(uri) else { return Ok(()) };
        let mut by_file: HashMap<Uri, Vec<lsp_types::Diagnostic>> = HashMap::new();
        for member in &analysis.members {
            if let Some(member_uri) = analysis.source(*member).and_then(|s| uri_of(&s.path)) {
                by_file.entry(member_uri).or_default();
            }
        }
        for diagnostic in &analysis.diagnostics {
            let file = diagnostic.primary_span().map_or(analysis.members[0], |s| s.file);
            let Some(source) = analysis.source(file) else { continue };
            let Some(file_uri) = uri_of(&source.path) else { continue };
            by_file.entry(file_uri).or_default().push(to_lsp(&analysis, diagnostic));
        }
        for (file_uri, diagnostics) in by_file {
            self.publish(file_uri, diagnostics)?;
        }
        Ok(())
    }

    fn publish(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) -> Result<(), LspError> {
        let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
        let notification = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
        self.send(Message::Notification(notification))
    }

    fn send(&self, message: Message) -> Result<(), LspError> {
        self.connection.sender.send(message).map_err(|_| LspError::Closed)
    }

    fn analysis(&self, uri: &Uri) -> Option<Analysis> {
        let path = self.documents.get(uri).map(|(p, _)| p.clone()).or_else(|| path_of(uri))?;
        let buffers = self.documents.values().map(|(p, t)| (p.clone(), t.clone())).collect();
        analyse(&path, buffers, &self.roots).ok()
    }

    /// Answers one request; unknown methods and bad parameters get protocol errors.
    fn answer(&self, request: Request) -> Response {
        let id = request.id.clone();
        match self.dispatch(request) {
            Ok(result) => Response::new_ok(id, result),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    #[allow(clippy::mutable_key_type)] // `WorkspaceEdit` keys edits by `Uri` (see `publish_for`)
    fn dispatch(&self, request: Request) -> Result<Value, (ErrorCode, String)> {
        let bad = |e: serde_json::Error| (ErrorCode::InvalidParams, e.to_string());
        let json = |v: Result<Value, serde_json::Error>| {
            v.map_err(|e| (ErrorCode::InternalError, e.to_string()))
        };
        match request.method.as_str() {
            HoverRequest::METHOD => {
                let params: lsp_types::HoverParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let found = self
                    .at(&params.text_document_position_params)
                    .and_then(|(a, at)| hover::hover(&a, at, self.reference_url.as_deref()));
                json(serde_json::to_value(found.map(|value| Hover {
                    contents: HoverContents::Markup(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value,
                    }),
                    range: None,
                })))
            }
            GotoDefinition::METHOD => {
                let params: lsp_types::GotoDefinitionParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let found: Vec<Location> = self
                    .at(&params.text_document_position_params)
                    .map(|(a, at)| navigate::definition(&a, at))
                    .unwrap_or_default();
                json(serde_json::to_value(
                    (!found.is_empty()).then_some(GotoDefinitionResponse::Array(found)),
                ))
            }
            References::METHOD => {
                let params: lsp_types::ReferenceParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let found = self.at(&params.text_document_position).map(|(a, at)| {
                    navigate::references(&a, at, params.context.include_declaration)
                });
                json(serde_json::to_value(found))
            }
            Completion::METHOD => {
                let params: lsp_types::CompletionParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let items = self.completion(&params.text_document_position);
                json(serde_json::to_value(items.map(lsp_types::CompletionResponse::Array)))
            }
            PrepareRenameRequest::METHOD => {
                let params: TextDocumentPositionParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let Some((analysis, at)) = self.at(&params) else { return Ok(Value::Null) };
                let occurrence = navigate::renamable(&analysis, at)
                    .map_err(|e| (ErrorCode::InvalidRequest, e.to_string()))?;
                let text = analysis.target_source().map(|s| s.text.clone()).unwrap_or_default();
                json(serde_json::to_value(PrepareRenameResponse::RangeWithPlaceholder {
                    range: range(&text, occurrence.span.start, occurrence.span.end),
                    placeholder: occurrence.name.clone(),
                }))
            }
            Rename::METHOD => {
                let params: lsp_types::RenameParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let Some((analysis, at)) = self.at(&params.text_document_position) else {
                    return Ok(Value::Null);
                };
                let changes = navigate::rename(&analysis, at, &params.new_name)
                    .map_err(|e| (ErrorCode::InvalidRequest, e.to_string()))?;
                json(serde_json::to_value(WorkspaceEdit {
                    changes: Some(changes),
                    ..WorkspaceEdit::default()
                }))
            }
            Formatting::METHOD => {
                let params: lsp_types::DocumentFormattingParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                json(serde_json::to_value(self.format(&params.text_document.uri)))
            }
            DocumentSymbolRequest::METHOD => {
                let params: lsp_types::DocumentSymbolParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let symbols = self
                    .analysis(&params.text_document.uri)
                    .and_then(|a| a.target_source().map(|s| outline::symbols(&a.file, s)));
                json(serde_json::to_value(symbols.map(DocumentSymbolResponse::Nested)))
            }
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("botrun lsp does not handle `{}`", request.method),
            )),
        }
    }

    /// The analysis of a position's file and the byte offset of the position in it.
    fn at(&self, position: &TextDocumentPositionParams) -> Option<(Analysis, usize)> {
        let analysis = self.analysis(&position.text_document.uri)?;
        let at = offset(&analysis.target_source()?.text, position.position);
        Some((analysis, at))
    }

    /// Completion reads the names of the bot; the line being typed is usually unfinished and
    /// makes the file fail to parse, so then the names come from the file without that line.
    fn completion(
        &self,
        position: &TextDocumentPositionParams,
    ) -> Option<Vec<lsp_types::CompletionItem>> {
        let uri = &position.text_document.uri;
        let analysis = self.analysis(uri)?;
        let text = analysis.target_source()?.text.clone();
        let at = offset(&text, position.position);
        if analysis.target_parsed {
            return Some(complete::complete(&analysis, &text, at));
        }
        let (path, _) = self.documents.get(uri)?;
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let mut without_line = text[..line_start].to_string();
        without_line.push_str(&" ".repeat(line_end - line_start));
        without_line.push_str(&text[line_end..]);
        let mut buffers: Vec<(PathBuf, Arc<str>)> = self
            .documents
            .values()
            .filter(|(p, _)| p != path)
            .map(|(p, t)| (p.clone(), t.clone()))
            .collect();
        buffers.push((path.clone(), without_line.into()));
        let repaired = analyse(path, buffers, &self.roots).ok()?;
        Some(complete::complete(&repaired, &text, at))
    }

    /// The same rewrite as `botrun fmt`, as one edit; nothing when the file has syntax errors.
    fn format(&self, uri: &Uri) -> Option<Vec<TextEdit>> {
        let (path, text) = match self.documents.get(uri) {
            Some((path, text)) => (path.clone(), text.to_string()),
            None => {
                let path = path_of(uri)?;
                let text = std::fs::read_to_string(&path).ok()?;
                (path, text)
            }
        };
        let source = crate::source::SourceFile::new(crate::source::FileId(0), path, text.as_str());
        let parsed = crate::syntax::parse(&source).ok()?;
        let formatted = crate::syntax::print::format(&parsed, &text);
        if formatted == text {
            return Some(Vec::new());
        }
        Some(vec![TextEdit { range: range(&text, 0, text.len()), new_text: formatted }])
    }
}

/// A check diagnostic as the editor shows it: the same message `validate` prints, its help on
/// the next line, and its other labels as related locations.
fn to_lsp(analysis: &Analysis, diagnostic: &Diagnostic) -> lsp_types::Diagnostic {
    let primary = diagnostic.primary_span();
    let text =
        primary.and_then(|s| analysis.source(s.file)).map(|s| s.text.clone()).unwrap_or_default();
    let at = primary.map_or_else(|| range(&text, 0, 0), |s| range(&text, s.start, s.end));
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter_map(|label| {
            let source = analysis.source(label.span.file)?;
            Some(DiagnosticRelatedInformation {
                location: Location {
                    uri: uri_of(&source.path)?,
                    range: range(&source.text, label.span.start, label.span.end),
                },
                message: label.text.clone(),
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range: at,
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.to_string())),
        source: Some("botrun".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// The language reference beside the sources this binary was built from, when it is there.
fn default_reference_url() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/README.md");
    path.is_file().then(|| uri_of(&path).map(|u| u.as_str().to_string())).flatten()
}
