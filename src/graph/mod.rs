//! Graph: the flow of a bot as a picture — states as boxes, `when`/`otherwise`/`after`
//! transitions as labelled arrows, `ask` loops, `anytime` interrupts, handoffs and resolves as
//! exits, unreachable states marked — written as Mermaid, DOT or a self-laid-out SVG.
//! Reads the checked syntax tree only (imports `syntax` and `source`); never the engine or server.

mod dot;
mod layout;
mod mermaid;
mod model;
mod svg;

pub(crate) use dot::render_dot;
pub(crate) use mermaid::render_mermaid;
pub(crate) use model::FlowGraph;
pub use model::{build, NodeKind};
pub(crate) use svg::escape as escape_markup;
pub(crate) use svg::render_svg;

/// The picture formats `botrun graph` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Mermaid flowchart text (renders on GitHub and in many wikis)
    Mermaid,
    /// Graphviz DOT text
    Dot,
    /// A standalone SVG picture, laid out by botrun itself
    Svg,
}

impl Format {
    /// The file extension pictures of this format get in `docs/`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Mermaid => "mmd",
            Format::Dot => "dot",
            Format::Svg => "svg",
        }
    }
}

/// Renders `graph` in `format`.
pub fn render(graph: &FlowGraph, format: Format) -> String {
    match format {
        Format::Mermaid => render_mermaid(graph),
        Format::Dot => render_dot(graph),
        Format::Svg => render_svg(graph),
    }
}
