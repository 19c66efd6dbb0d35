// The VS Code side of botrun: starts `botrun lsp` for .bot files and lets VS Code's language
// client speak the protocol. Everything the editor shows comes from the server.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration('botrun');
  const command = settings.get('path') || 'botrun';
  const referenceUrl = settings.get('referenceUrl') || undefined;
  client = new LanguageClient(
    'botrun',
    'botrun',
    { command, args: ['lsp'] },
    {
      documentSelector: [{ scheme: 'file', language: 'botrun' }],
      initializationOptions: referenceUrl ? { referenceUrl } : {},
    }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
