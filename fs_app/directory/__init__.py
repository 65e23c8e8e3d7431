"""The SIP directory FreeSWITCH reads from the product over HTTP (mod_xml_curl, directory binding).

``lookup`` finds a seat's SIP account with one indexed query on the call path's database access;
``document`` renders FreeSWITCH's XML (a user, or "not found"); ``app`` is the WSGI application
on its own listening socket (``directory_listen``): peer allowlist, shared secret, metrics.
"""
