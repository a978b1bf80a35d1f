//! Signing keys an operator brings, in GoTrue's `GOTRUE_JWT_KEYS` format: a JSON array (or a
//! `{"keys": [...]}` set) of private JWKs, RS256 (RSA) or ES256 (EC P-256), each with a `kid`.
//! The key whose `key_ops` includes `sign` signs (GoTrue's rule); the others only verify, so a
//! project moving from Supabase keeps verifying the tokens its old keys signed.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{json, Value};

use crate::crypto::base64url;

/// One imported key.
#[derive(Clone)]
pub struct ImportedKey {
    pub kid: String,
    pub algorithm: Algorithm,
    /// Present on the key that signs.
    pub encoding: Option<EncodingKey>,
    pub decoding: DecodingKey,
    /// The public half, as the JWKS publishes it.
    pub public_jwk: Value,
}

/// Parses a GoTrue JWK set: at least one key, exactly one of them with `sign` in `key_ops`.
/// The error says what is wrong, never a key's private part.
pub fn parse(raw: &str) -> Result<Vec<ImportedKey>, String> {
    let value: Value = serde_json::from_str(raw).map_err(|error| format!("not JSON ({error})"))?;
    let list = match &value {
        Value::Array(list) => list.clone(),
        Value::Object(set) => set
            .get("keys")
            .and_then(Value::as_array)
            .cloned()
            .ok_or("a JSON array of JWKs, or an object with \"keys\"")?,
        _ => return Err("a JSON array of JWKs".into()),
    };
    let keys = list.iter().map(parse_key).collect::<Result<Vec<_>, _>>()?;
    match keys.iter().filter(|key| key.encoding.is_some()).count() {
        1 => Ok(keys),
        0 => Err("no key has \"sign\" in its key_ops".into()),
        _ => Err("more than one key has \"sign\" in its key_ops".into()),
    }
}

fn parse_key(jwk: &Value) -> Result<ImportedKey, String> {
    let kid = jwk["kid"]
        .as_str()
        .filter(|kid| !kid.is_empty())
        .ok_or("every key needs a \"kid\"")?
        .to_owned();
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let text = jwk[name]
            .as_str()
            .ok_or_else(|| format!("key {kid}: \"{name}\" is missing"))?;
        crate::crypto::base64url_decode(text)
            .ok_or_else(|| format!("key {kid}: \"{name}\" is not base64url"))
    };
    let signs = jwk["key_ops"]
        .as_array()
        .is_some_and(|ops| ops.iter().any(|op| op == "sign"));
    let named = jwk["alg"].as_str();
    let (algorithm, encoding, decoding, public) = match jwk["kty"].as_str() {
        Some("RSA") if named.is_none_or(|alg| alg == "RS256") => {
            let (n, e) = (field("n")?, field("e")?);
            let der = der_sequence(&[
                der_integer(&[0]),
                der_integer(&n),
                der_integer(&e),
                der_integer(&field("d")?),
                der_integer(&field("p")?),
                der_integer(&field("q")?),
                der_integer(&field("dp")?),
                der_integer(&field("dq")?),
                der_integer(&field("qi")?),
            ]);
            let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
            let public = json!({ "kty": "RSA", "n": base64url(&n), "e": base64url(&e) });
            (
                Algorithm::RS256,
                EncodingKey::from_rsa_der(&der),
                decoding,
                public,
            )
        }
        Some("EC") if jwk["crv"] == "P-256" && named.is_none_or(|alg| alg == "ES256") => {
            let (x, y, d) = (field("x")?, field("y")?, field("d")?);
            if x.len() != 32 || y.len() != 32 || d.len() != 32 {
                return Err(format!("key {kid}: not a P-256 key"));
            }
            let decoding = DecodingKey::from_ec_components(&base64url(&x), &base64url(&y))
                .map_err(|_| format!("key {kid}: not a P-256 key"))?;
            let public =
                json!({ "kty": "EC", "crv": "P-256", "x": base64url(&x), "y": base64url(&y) });
            let der = p256_pkcs8(&d, &x, &y);
            (
                Algorithm::ES256,
                EncodingKey::from_ec_der(&der),
                decoding,
                public,
            )
        }
        _ => {
            return Err(format!(
                "key {kid}: only RS256 (kty RSA) and ES256 (kty EC, crv P-256) keys are supported"
            ))
        }
    };
    // A key that does not parse as a signing key is refused now, not at the first sign-in.
    let probe = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &json!({ "probe": true }),
        &encoding,
    )
    .map_err(|_| format!("key {kid}: the private key is not valid"))?;
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(&probe, &decoding, &validation)
        .map_err(|_| format!("key {kid}: the private key does not match the public key"))?;
    let mut public_jwk = public;
    public_jwk["kid"] = json!(kid);
    public_jwk["alg"] = json!(format!("{algorithm:?}"));
    public_jwk["use"] = json!("sig");
    public_jwk["key_ops"] = json!(["verify"]);
    Ok(ImportedKey {
        kid,
        algorithm,
        encoding: signs.then_some(encoding),
        decoding,
        public_jwk,
    })
}

/// A P-256 private key as PKCS#8 DER, in the layout ring generates and reads.
fn p256_pkcs8(d: &[u8], x: &[u8], y: &[u8]) -> Vec<u8> {
    const PREFIX: [u8; 36] = [
        0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30,
        0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
    ];
    const MIDDLE: [u8; 6] = [0xa1, 0x44, 0x03, 0x42, 0x00, 0x04];
    [&PREFIX[..], d, &MIDDLE, x, y].concat()
}

fn der_length(length: usize) -> Vec<u8> {
    match length {
        0..=0x7f => vec![length as u8],
        0x80..=0xff => vec![0x81, length as u8],
        _ => vec![0x82, (length >> 8) as u8, length as u8],
    }
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed = match bytes.iter().position(|&b| b != 0) {
        Some(start) => &bytes[start..],
        None => &[0u8][..],
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    [vec![0x02], der_length(content.len()), content].concat()
}

fn der_sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    let content = parts.concat();
    [vec![0x30], der_length(content.len()), content].concat()
}

#[cfg(test)]
mod tests {
    use ring::{
        rand::SystemRandom,
        signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
    };

    #[test]
    fn the_pkcs8_layout_is_the_one_ring_generates() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let bytes = pkcs8.as_ref();
        let (d, point) = (&bytes[36..68], &bytes[73..138]);
        let rebuilt = super::p256_pkcs8(d, &point[1..33], &point[33..65]);
        assert_eq!(rebuilt, bytes);
    }

    #[test]
    fn keys_without_a_signer_or_of_other_types_are_refused() {
        assert!(super::parse("[]").err().unwrap().contains("sign"));
        let oct = r#"[{"kty":"oct","k":"c2VjcmV0","kid":"a","key_ops":["sign"]}]"#;
        assert!(super::parse(oct).err().unwrap().contains("only RS256"));
        assert!(super::parse("{").err().unwrap().starts_with("not JSON"));
    }
}
