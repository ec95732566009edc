"""The CSM web page: sign-in, the ranked risk list, account pages and CSV export.

Server-rendered from `templates/` and `static/`, on the same app and store as the API.
"""
