-- SAML assertions already used, kept until they expire: an assertion signs one person in once.
CREATE TABLE saml_assertions (
    id_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
