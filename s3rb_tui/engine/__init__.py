"""The pipeline engine. Never imports Textual or Rich."""
