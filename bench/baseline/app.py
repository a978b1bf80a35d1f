"""The starter backend's protected read routes, as it wrote them: FastAPI + SQLAlchemy + PyJWT.

The baseline ferrochat is measured against (bench/chat/baseline.rs starts it with uvicorn, one
worker per core, on the same database file or Postgres database as the ferrochat it is compared
with). A token is checked as the starter checked it: `jwt.decode` with the project's HS256 secret
and audience "authenticated", or, for an ES256 token, the key from the project's JWKS through
PyJWKClient (which caches the key set). Then one query for the caller's rows, serialised through
Pydantic models.

Settings (environment): BASELINE_DATABASE_URL (an SQLAlchemy URL), BASELINE_JWT_SECRET,
BASELINE_JWKS_URL.
"""

import os
from datetime import datetime, timezone
from typing import List

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, String, Text, create_engine, select
from sqlalchemy.orm import Session, declarative_base, sessionmaker

DATABASE_URL = os.environ["BASELINE_DATABASE_URL"]
JWT_SECRET = os.environ.get("BASELINE_JWT_SECRET", "")
JWKS_URL = os.environ.get("BASELINE_JWKS_URL", "")

engine = create_engine(DATABASE_URL, pool_size=10, max_overflow=20)
SessionLocal = sessionmaker(bind=engine, autoflush=False, autocommit=False)
Base = declarative_base()
jwks_client = jwt.PyJWKClient(JWKS_URL, cache_keys=True) if JWKS_URL else None
security = HTTPBearer()

app = FastAPI()


class ChatSession(Base):
    __tablename__ = "chat_sessions"
    id = Column(String, primary_key=True)
    user_id = Column(String, nullable=False, index=True)
    title = Column(Text, nullable=False)
    created_at = Column(BigInteger, nullable=False)
    updated_at = Column(BigInteger, nullable=False)


class Message(Base):
    __tablename__ = "messages"
    id = Column(String, primary_key=True)
    chat_session_id = Column(String, nullable=False)
    role = Column(String, nullable=False)
    content = Column(Text, nullable=False)
    created_at = Column(BigInteger, nullable=False)


class ChatSessionOut(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    id: str
    chat_session_id: str
    role: str
    content: str
    created_at: datetime


def millis(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def get_current_user(credentials: HTTPAuthorizationCredentials = Depends(security)) -> str:
    token = credentials.credentials
    try:
        if jwt.get_unverified_header(token).get("alg") == "HS256":
            payload = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="authenticated")
        else:
            key = jwks_client.get_signing_key_from_jwt(token)
            payload = jwt.decode(token, key.key, algorithms=["ES256"], audience="authenticated")
    except jwt.PyJWTError:
        raise HTTPException(status_code=401, detail="Invalid or expired token")
    return payload["sub"]


@app.get("/api/sessions", response_model=List[ChatSessionOut])
def list_sessions(user_id: str = Depends(get_current_user), db: Session = Depends(get_db)):
    rows = db.execute(
        select(ChatSession)
        .where(ChatSession.user_id == user_id)
        .order_by(ChatSession.updated_at.desc())
        .limit(1000)
    ).scalars()
    return [
        ChatSessionOut(
            id=row.id,
            title=row.title,
            created_at=millis(row.created_at),
            updated_at=millis(row.updated_at),
        )
        for row in rows
    ]


@app.get("/api/sessions/{session_id}", response_model=List[MessageOut])
def get_session(
    session_id: str, user_id: str = Depends(get_current_user), db: Session = Depends(get_db)
):
    owned = db.execute(
        select(ChatSession.id).where(ChatSession.id == session_id, ChatSession.user_id == user_id)
    ).first()
    if owned is None:
        raise HTTPException(status_code=404, detail="Chat session not found")
    rows = db.execute(
        select(Message).where(Message.chat_session_id == session_id).order_by(Message.id)
    ).scalars()
    return [
        MessageOut(
            id=row.id,
            chat_session_id=row.chat_session_id,
            role=row.role,
            content=row.content,
            created_at=millis(row.created_at),
        )
        for row in rows
    ]
