"""The Streamlit side of RepCAM: state keys, cached resources, figures, background jobs, uploads.

Everything that imports Streamlit lives here or in ``app.py`` / ``pages/``; ``repcam_core``
never does.
"""
