"""Demo customers and orders that look like a real brand's, the same for the same seed.

Customers have names, emails, phones, a city and a sign-up channel (the last two are
custom columns, so they land in ``attributes``). A few customers order far more often
than most (a Pareto spread of order frequency), amounts are log-normal around ₹1,100
with a long tail, and orders fall on the past year's days by season: a festive peak in
October and November, December holidays, a January sale, a quiet February, busier
weekends. Orders come in date order, as a nightly export would.
"""

import csv
import io
import itertools
import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

# fmt: off
FIRST_NAMES = (
    "Aarav", "Aditi", "Akash", "Ananya", "Arjun", "Avni", "Diya", "Farhan", "Gauri", "Ishaan",
    "Kabir", "Kavya", "Meera", "Mohan", "Neha", "Nikhil", "Pooja", "Priya", "Rahul", "Riya",
    "Rohan", "Saanvi", "Sameer", "Sana", "Shreya", "Siddharth", "Tanvi", "Varun", "Vikram",
    "Zoya", "Emma", "Liam", "Olivia", "Noah", "Sofia", "Lucas", "Mia", "Omar", "Yuki", "Chen",
)
LAST_NAMES = (
    "Sharma", "Verma", "Iyer", "Nair", "Reddy", "Gupta", "Mehta", "Shah", "Kapoor", "Joshi",
    "Patel", "Singh", "Das", "Rao", "Menon", "Bose", "Pillai", "Khan", "Chopra", "Malhotra",
    "Banerjee", "Kulkarni", "Desai", "Smith", "Garcia", "Müller", "Tanaka", "Silva",
)
# fmt: on
CITIES = {
    "Mumbai": 16,
    "Delhi": 15,
    "Bengaluru": 14,
    "Hyderabad": 9,
    "Chennai": 8,
    "Pune": 7,
    "Kolkata": 7,
    "Ahmedabad": 5,
    "Jaipur": 4,
    "Kochi": 3,
    "Lucknow": 3,
    "Indore": 2,
}
CHANNELS = {"app": 5, "web": 3, "store": 2}
DOMAINS = ("gmail.com", "yahoo.co.in", "outlook.com", "rediffmail.com", "icloud.com")
# Relative order volume by month, and on Saturdays and Sundays.
SEASON = {1: 1.2, 2: 0.75, 3: 0.85, 4: 0.9, 5: 0.95, 6: 0.9, 7: 1.0, 8: 1.05, 9: 1.0}
SEASON |= {10: 1.6, 11: 1.7, 12: 1.35}
WEEKEND = 1.3
CUSTOMER_COLUMNS = ("customer_id", "name", "email", "phone", "city", "channel")
ORDER_COLUMNS = ("order_id", "customer_id", "order_amount", "order_date")


def customer_id(number: int) -> str:
    return f"C{number:07d}"


def customers(count: int, seed: int = 0) -> Iterator[dict[str, str]]:
    rng = random.Random(seed)
    cities, city_weights = list(CITIES), list(CITIES.values())
    channels, channel_weights = list(CHANNELS), list(CHANNELS.values())
    for number in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        yield {
            "customer_id": customer_id(number),
            "name": f"{first} {last}",
            "email": f"{first}.{last}{number}@{rng.choice(DOMAINS)}".lower().replace("ü", "ue"),
            "phone": f"+91 9{rng.randrange(10**9):09d}",
            "city": rng.choices(cities, city_weights)[0],
            "channel": rng.choices(channels, channel_weights)[0],
        }


def orders(
    count: int, customer_count: int, seed: int = 0, until: date | None = None
) -> Iterator[dict[str, str]]:
    """``count`` orders of customers ``0 .. customer_count - 1``, oldest first."""
    rng = random.Random(seed + 1)
    until = until or date.today()
    days = [until - timedelta(days=ago) for ago in range(364, -1, -1)]
    weights = [SEASON[day.month] * (WEEKEND if day.weekday() >= 5 else 1) for day in days]
    frequency = list(itertools.accumulate(rng.paretovariate(1.8) for _ in range(customer_count)))
    number = 0
    for day, orders_that_day in zip(days, _spread(count, weights), strict=True):
        for buyer in rng.choices(range(customer_count), cum_weights=frequency, k=orders_that_day):
            amount = min(rng.lognormvariate(7.0, 0.9), 500_000)
            yield {
                "order_id": f"O{number:08d}",
                "customer_id": customer_id(buyer),
                "order_amount": f"{amount:.2f}",
                "order_date": day.isoformat(),
            }
            number += 1


def _spread(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, in whole numbers that add up."""
    scale = total / sum(weights)
    counts = [int(weight * scale) for weight in weights]
    by_remainder = sorted(
        range(len(weights)), key=lambda i: weights[i] * scale - counts[i], reverse=True
    )
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def write_csv(out: io.TextIOBase, rows: Iterable[dict[str, str]], columns: tuple[str, ...]) -> int:
    """Write ``rows`` as CSV with a header; returns how many rows. A file to import, not
    a download for a spreadsheet: its cells are written as they are (``+91 …`` phones
    included), unlike ``csv_cells``."""
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    written = 0
    for row in rows:
        writer.writerow(row)
        written += 1
    return written
