"""Notices: what the hotline sends to whoever can remove content, and how it gets there.

What each module gives::

    documents.NoticeContent(...)            -> everything one notice says (no image data, ever)
    xarf.build_xarf(content, settings)      -> one X-ARF v4 content/csam report per URL
    legal.legal_basis(country, settings)    -> the legal basis quoted for a jurisdiction
    render.render_email(content, settings)  -> subject, plain text and HTML in the recipient's
                                               language (English when we have no templates)
    message.build_email(...)                -> the MIME message, X-ARF attached as JSON
    channels.SmtpSender / WebhookSender     -> delivery, answering accepted / permanent / detail
"""
