"""Generated API documentation: `python -m docs.build OUTDIR` builds the static site."""
