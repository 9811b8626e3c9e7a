"""A FastAPI service with the kinds of operations an OpenAPI document describes: path
and query parameters, enums and defaults, JSON bodies, a DELETE, an operation behind a
bearer token, and two that a scenario cannot fill (a pattern-checked path, a required
header)."""

from __future__ import annotations

import os
from enum import StrEnum

from fastapi import FastAPI, Header, HTTPException, Path, Query
from pydantic import BaseModel, Field

app = FastAPI(title="openapi test app")
TOKEN = os.environ.get("APP_TOKEN", "")


class Color(StrEnum):
    red = "red"
    blue = "blue"


class Order(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    express: bool = False
    note: str | None = None


class Item(BaseModel):
    name: str = Field(min_length=3)
    color: Color
    tags: list[str] = []


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/items/{item_id}")
def read_item(item_id: int) -> dict:
    return {"id": item_id}


@app.get("/search")
def search(q: str, limit: int = Query(10, ge=1, le=100), color: Color = Color.red) -> dict:
    return {"q": q, "limit": limit, "color": color}


@app.post("/orders", status_code=201)
def create_order(order: Order) -> dict:
    return {"ok": True, "quantity": order.quantity}


@app.put("/items/{item_id}")
def replace_item(item_id: int, item: Item) -> dict:
    return {"id": item_id, "name": item.name}


@app.delete("/items/{item_id}", status_code=204)
def delete_item(item_id: int) -> None:
    return None


@app.get("/me")
def me(authorization: str | None = Header(None)) -> dict:
    if not TOKEN or authorization != f"Bearer {TOKEN}":
        raise HTTPException(status_code=401, detail="bad token")
    return {"user": "someone"}


@app.get("/codes/{code}")
def code(code: str = Path(pattern=r"^[A-Z]{3}-\d{4}$")) -> dict:
    return {"code": code}


@app.get("/tenant")
def tenant(x_tenant: str = Header()) -> dict:
    return {"tenant": x_tenant}
