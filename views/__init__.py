"""Dashboard pages (routed by ``app.py`` with ``st.navigation``) and their shared helpers."""
