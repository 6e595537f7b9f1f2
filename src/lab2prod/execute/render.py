"""An executed notebook as one HTML file, by nbconvert.

Rendering reaches no network: nbconvert's template only *names* CDN URLs (MathJax, require.js)
for the browser to fetch when the page is opened; offline, the page shows everything but
LaTeX math and widgets.
"""

from __future__ import annotations

from pathlib import Path

from lab2prod.io import write_text_atomic


def render_html(notebook: Path, html: Path, *, hide_code: bool = False) -> Path:
    """Render the notebook file ``notebook`` to ``html`` (written atomically).

    Args:
        notebook: An ``.ipynb`` file, usually executed.
        html: Where to write the page.
        hide_code: Leave code cells' source out, keeping their outputs: a report.

    Returns:
        ``html``.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    write_text_atomic(html, body)
    return html
