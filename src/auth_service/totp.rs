//! TOTP keys (RFC 6238: SHA-1, 30-second steps, 6 digits, as GoTrue and every authenticator app
//! use), their `otpauth://` URI and QR code, and how the key is sealed for storage.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use totp_rs::{Algorithm, TOTP};

use super::error::{AuthError, AuthResult};
use crate::crypto::random_bytes;

/// Seconds per code.
const STEP_SECS: u64 = 30;
/// Digits per code.
const DIGITS: usize = 6;
/// Steps accepted either side of now, for clocks that drift (GoTrue's skew).
const SKEW_STEPS: u64 = 1;
/// Bytes of key: 160 bits, RFC 4226's recommendation and GoTrue's.
const KEY_BYTES: usize = 20;

/// A TOTP key of one factor.
pub struct TotpKey(Vec<u8>);

impl TotpKey {
    /// A new random key.
    pub fn generate() -> Self {
        TotpKey(random_bytes::<KEY_BYTES>().to_vec())
    }

    fn totp(&self, issuer: Option<&str>, account: &str) -> AuthResult<TOTP> {
        TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            SKEW_STEPS as u8,
            STEP_SECS,
            self.0.clone(),
            issuer.map(str::to_owned),
            account.to_owned(),
        )
        .map_err(|error| AuthError::validation(format!("Cannot make a TOTP key: {error:?}")))
    }

    /// The key in base32, as people type it into an authenticator app.
    pub fn base32(&self) -> AuthResult<String> {
        Ok(self.totp(None, "")?.get_secret_base32())
    }

    /// The `otpauth://totp/<issuer>:<account>?secret=…&issuer=…` URI an authenticator app reads.
    pub fn uri(&self, issuer: &str, account: &str) -> AuthResult<String> {
        Ok(self.totp(Some(issuer), account)?.get_url())
    }

    /// The time step (`unix time / 30`) whose code `code` is, among the steps accepted at `now`;
    /// the comparison takes the same time whatever the code.
    pub fn matching_step(&self, code: &str, now: u64) -> Option<u64> {
        let totp = self.totp(None, "").ok()?;
        let current = now / STEP_SECS;
        // Every step is computed, whichever matches: the time taken says nothing.
        (current.saturating_sub(SKEW_STEPS)..=current + SKEW_STEPS).fold(None, |found, step| {
            if same_code(&totp.generate(step * STEP_SECS), code) {
                Some(step)
            } else {
                found
            }
        })
    }

    /// The key sealed with AES-256-GCM under `key`, bound to the factor `factor_id`: a sealed
    /// key copied onto another factor does not open. Stored as nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, key: &[u8], factor_id: &str) -> AuthResult<Vec<u8>> {
        let nonce = random_bytes::<NONCE_LEN>();
        let mut sealed = self.0.clone();
        sealing_key(key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(factor_id.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| AuthError::internal("cannot seal a TOTP key"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Opens what [`TotpKey::seal`] sealed for `factor_id`.
    pub fn open(key: &[u8], factor_id: &str, sealed: &[u8]) -> AuthResult<Self> {
        if sealed.len() < NONCE_LEN {
            return Err(AuthError::internal("a sealed TOTP key is truncated"));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| AuthError::internal("a sealed TOTP key has a bad nonce"))?;
        let mut buffer = ciphertext.to_vec();
        let plain = sealing_key(key)?
            .open_in_place(nonce, Aad::from(factor_id.as_bytes()), &mut buffer)
            .map_err(|_| AuthError::internal("a sealed TOTP key does not open"))?;
        Ok(TotpKey(plain.to_vec()))
    }
}

/// Whether two codes are equal, in a time that does not depend on where they differ.
fn same_code(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

fn sealing_key(key: &[u8]) -> AuthResult<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| AuthError::internal("the TOTP sealing key is not 256 bits"))
}

/// The QR code of `uri` as an SVG document (GoTrue sends the SVG itself; supabase-js makes it a
/// `data:image/svg+xml` URI).
pub fn qr_svg(uri: &str) -> AuthResult<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M)
        .map_err(|error| AuthError::internal(format!("cannot draw the QR code: {error}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 test key and vectors (8 digits there; the last 6 are our code).
    #[test]
    fn codes_are_rfc_6238() {
        let key = TotpKey(b"12345678901234567890".to_vec());
        assert_eq!(key.matching_step("287082", 59), Some(1));
        assert_eq!(key.matching_step("081804", 1_111_111_109), Some(37_037_036));
        assert_eq!(key.matching_step("005924", 1_234_567_890), Some(41_152_263));
        assert_eq!(key.matching_step("000000", 59), None);
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let key = TotpKey(b"12345678901234567890".to_vec());
        let at = 1_111_111_109;
        assert_eq!(key.matching_step("081804", at + 30), Some(37_037_036));
        assert_eq!(key.matching_step("081804", at - 30), Some(37_037_036));
        assert_eq!(key.matching_step("081804", at + 60), None);
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_factor() {
        let secret = random_bytes::<32>();
        let key = TotpKey::generate();
        let sealed = key.seal(&secret, "factor-a").unwrap();
        assert_eq!(
            TotpKey::open(&secret, "factor-a", &sealed).unwrap().0,
            key.0
        );
        assert!(TotpKey::open(&secret, "factor-b", &sealed).is_err());
        assert!(!sealed.windows(KEY_BYTES).any(|window| window == key.0));
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let key = TotpKey(b"12345678901234567890".to_vec());
        assert_eq!(
            key.uri("ferrochat", "ada@example.test").unwrap(),
            "otpauth://totp/ferrochat:ada%40example.test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ferrochat"
        );
        assert!(qr_svg("otpauth://totp/x").unwrap().starts_with("<?xml"));
    }
}
