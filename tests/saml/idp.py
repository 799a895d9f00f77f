"""The test suite's SAML identity provider: builds Responses at run time and signs them with
xmlsec1 (real XML signatures), honestly or in the broken ways a relying party must refuse.

Usage:
  idp.py request-id URL          the ID of the AuthnRequest carried by an HTTP-Redirect URL
  idp.py respond JSON            a base64 SAMLResponse; JSON holds
      key, cert        the signing key and certificate (PEM files)
      issuer, acs, audience, in_response_to (or null), person {name_id, email, groups, tenant}
      variant          normal | unsigned | tampered | wrapping | sha1 | wrong-audience |
                       no-audience | expired
  idp.py serve-metadata JSON   serves the IdP's metadata over HTTP on 127.0.0.1 and prints
      `listening PORT`; JSON holds issuer, sso (the HTTP-Redirect endpoint), cert (the signing
      certificate) and decoy (a certificate published for encryption only, never to be trusted
      for signatures)
"""

import base64
import datetime
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, HTTPServer
from xml.sax.saxutils import escape, quoteattr


def instant(delta_minutes=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=delta_minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def request_id(url):
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    start = xml.index(' ID="') + 5
    return xml[start : xml.index('"', start)]


def attribute(name, values):
    vals = "".join(f"<saml:AttributeValue>{escape(str(v))}</saml:AttributeValue>" for v in values)
    return f'<saml:Attribute Name={quoteattr(name)}>{vals}</saml:Attribute>'


def assertion(a, aid, person, sign, sha1):
    irt = f" InResponseTo={quoteattr(a['in_response_to'])}" if a.get("in_response_to") else ""
    age = -10 if a["variant"] == "expired" else 0
    audience = {"wrong-audience": "https://elsewhere.example/sp"}.get(a["variant"], a["audience"])
    restriction = (
        ""
        if a["variant"] == "no-audience"
        else f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience></saml:AudienceRestriction>"
    )
    sig_alg = "http://www.w3.org/2000/09/xmldsig#rsa-sha1" if sha1 else "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    dig_alg = "http://www.w3.org/2000/09/xmldsig#sha1" if sha1 else "http://www.w3.org/2001/04/xmlenc#sha256"
    signature = (
        f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        f'<ds:SignatureMethod Algorithm="{sig_alg}"/><ds:Reference URI="#{aid}"><ds:Transforms>'
        f'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        f'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{dig_alg}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>'
        f"<ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>"
        if sign
        else ""
    )
    attrs = attribute("email", [person["email"]]) + attribute("groups", person.get("groups", []))
    if "tenant" in person:
        attrs += attribute("tenant", [person["tenant"]])
    return (
        f'<saml:Assertion ID="{aid}" Version="2.0" IssueInstant="{instant(age)}">'
        f"<saml:Issuer>{escape(a['issuer'])}</saml:Issuer>{signature}"
        f'<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{escape(person['name_id'])}</saml:NameID>"
        f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{instant(age + 5)}" Recipient={quoteattr(a["acs"])}{irt}/>'
        f"</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{instant(age - 1)}" NotOnOrAfter="{instant(age + 5)}">{restriction}</saml:Conditions>'
        f'<saml:AuthnStatement AuthnInstant="{instant(age)}" SessionIndex="{aid}"><saml:AuthnContext>'
        f"<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>"
        f"</saml:AuthnContext></saml:AuthnStatement>"
        f"<saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"
    )


def respond(a):
    variant = a["variant"]
    aid = "_a" + uuid.uuid4().hex
    sign = variant != "unsigned"
    body = assertion(a, aid, a["person"], sign, variant == "sha1")
    irt = f" InResponseTo={quoteattr(a['in_response_to'])}" if a.get("in_response_to") else ""
    age = -10 if variant == "expired" else 0
    response = (
        f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{instant(age)}" Destination={quoteattr(a["acs"])}{irt}>'
        f"<saml:Issuer>{escape(a['issuer'])}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{body}</samlp:Response>"
    )
    if sign:
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "in.xml"), os.path.join(d, "out.xml")
            with open(src, "w") as f:
                f.write(response)
            subprocess.run(
                ["xmlsec1", "--sign", "--privkey-pem", f"{a['key']},{a['cert']}",
                 "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                 "--output", out, src],
                check=True, capture_output=True,
            )
            with open(out) as f:
                response = f.read()
    if variant == "tampered":
        response = response.replace(
            "<saml:AttributeValue>" + escape(a["person"]["email"]),
            "<saml:AttributeValue>" + escape("root@example.org"),
        ).replace("<saml:AttributeValue>support</saml:AttributeValue>", "<saml:AttributeValue>sales</saml:AttributeValue>")
    if variant == "wrapping":
        # An unsigned assertion for someone else, in front of the signed one.
        evil = dict(a["person"], name_id="alice@example.org", email="alice@example.org", groups=["sales"])
        forged = assertion(a, "_a" + uuid.uuid4().hex, evil, False, False)
        at = response.index("<saml:Assertion ")
        response = response[:at] + forged + response[at:]
    return base64.b64encode(response.encode()).decode()


def pem_body(path):
    with open(path) as f:
        return "".join(l for l in f.read().splitlines() if not l.startswith("-----"))


def metadata(a):
    def key(use, path):
        return (
            f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{pem_body(path)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )

    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(a["issuer"])}>'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        + key("encryption", a["decoy"])
        + key("signing", a["cert"])
        + '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="https://idp.example.test/sso-post"/>'
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location={quoteattr(a["sso"])}/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )


def serve_metadata(a):
    body = metadata(a).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/samlmetadata+xml")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "serve-metadata":
        serve_metadata(json.loads(sys.argv[2]))
    elif sys.argv[1] == "request-id":
        print(request_id(sys.argv[2]))
    else:
        print(respond(json.loads(sys.argv[2])))
