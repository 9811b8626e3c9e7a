"""Write the small sqlite file the datasette trace serves: ``python make_datasette_db.py OUT``.

Two tables made from a fixed seed (no download): ``items`` (2,000 rows) and ``orders``
(10,000 rows referring to them), about 1 MB.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from pathlib import Path


def main(out: Path) -> None:
    if out.exists():
        out.unlink()
    rng = random.Random(7)
    with sqlite3.connect(out) as db:
        db.execute("create table items (id integer primary key, name text, category text, "
                   "price real)")
        db.execute("create table orders (id integer primary key, item_id integer "
                   "references items(id), quantity integer, city text)")
        categories = ["books", "tools", "garden", "kitchen", "toys", "music"]
        cities = ["Pune", "Lyon", "Oslo", "Quito", "Perth", "Accra", "Osaka", "Bergen"]
        db.executemany("insert into items values (?, ?, ?, ?)",
                       [(i, f"item {i}", rng.choice(categories), round(rng.uniform(1, 500), 2))
                        for i in range(1, 2001)])
        db.executemany("insert into orders values (?, ?, ?, ?)",
                       [(i, rng.randint(1, 2000), rng.randint(1, 9), rng.choice(cities))
                        for i in range(1, 10001)])
        db.execute("create index orders_item on orders(item_id)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
