"""The analyst console: server-rendered pages for assessment, supervision, police and admin."""
