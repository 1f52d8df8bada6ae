"""The Textual workbench. Calls mlops_tui services; never runs SQL or trains on the UI thread."""
