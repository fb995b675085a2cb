"""The Streamlit app: a router (`app.py`), thin pages, and cached read wrappers."""
