"""Reports: paper tables (CSV, Markdown, LaTeX) and the Figure 1 gradient heatmap."""
