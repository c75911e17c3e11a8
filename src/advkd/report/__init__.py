"""Reports: paper tables (CSV, Markdown, LaTeX), training curves and the Figure 1 gradient heatmap."""
