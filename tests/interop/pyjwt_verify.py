"""Verifies a ferrochat access token the way the seed's FastAPI backend did, with PyJWT.

Usage:
  pyjwt_verify.py hs256 <secret> <token>          # jwt.decode(token, secret, algorithms=["HS256"], audience="authenticated")
  pyjwt_verify.py jwks <jwks-url> <issuer> <token> # PyJWKClient against the JWKS endpoint, ES256 or RS256

Prints the verified claims as JSON and exits 0, or prints the PyJWT error and exits 1.
"""

import json
import sys

import jwt


def main(argv):
    mode = argv[1]
    if mode == "hs256":
        secret, token = argv[2], argv[3]
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience="authenticated")
    elif mode == "jwks":
        jwks_url, issuer, token = argv[2], argv[3], argv[4]
        signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["ES256", "RS256"],
            audience="authenticated",
            issuer=issuer,
        )
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(claims))


if __name__ == "__main__":
    try:
        main(sys.argv)
    except jwt.PyJWTError as error:
        print(f"{type(error).__name__}: {error}")
        sys.exit(1)
