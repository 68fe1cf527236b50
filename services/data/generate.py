#!/usr/bin/env python3
"""Writes services/data/large: a larger, consistent hotel data set in the original
shapes (dozens of hotels at distinct coordinates in San Francisco and Oakland, rate
plans over April-May 2015, several customers). Deterministic: same output each run.

    python3 services/data/generate.py
"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "large")
rng = random.Random(20150409)

# (area, city, postal code, centre lat, centre lon, spread in degrees, hotels)
AREAS = [
    ("Union Square", "San Francisco", "94102", 37.7880, -122.4075, 0.006, 14),
    ("SoMa", "San Francisco", "94103", 37.7810, -122.4010, 0.008, 12),
    ("Fisherman's Wharf", "San Francisco", "94133", 37.8080, -122.4160, 0.006, 8),
    ("Mission", "San Francisco", "94110", 37.7600, -122.4150, 0.008, 6),
    ("Financial District", "San Francisco", "94111", 37.7940, -122.3990, 0.005, 8),
    ("Downtown Oakland", "Oakland", "94612", 37.8044, -122.2712, 0.008, 8),
]
STREETS = ["Market St", "Geary St", "Mission St", "Powell St", "Post St", "Sutter St", "Howard St",
           "Broadway", "Grand Ave", "Telegraph Ave"]
KINDS = ["Inn", "Hotel", "Suites", "Lodge", "House"]
ROOMS = [("KNG", "King sized bed", 1.0), ("QQN", "Two queen beds", 0.9), ("STE", "One bedroom suite", 1.6)]


def main():
    os.makedirs(OUT, exist_ok=True)
    locations, profiles, rates = [], [], []
    seen = set()
    hotel_id = 0
    for area, city, postal, lat, lon, spread, count in AREAS:
        for _ in range(count):
            hotel_id += 1
            while True:
                point = (round((lat + rng.uniform(-spread, spread)) * 1e7),
                         round((lon + rng.uniform(-spread, spread)) * 1e7))
                if point not in seen:
                    seen.add(point)
                    break
            locations.append({"hotelID": hotel_id, "point": {"latitude": point[0], "longitude": point[1]}})
            street = rng.choice(STREETS)
            profiles.append({
                "id": hotel_id,
                "name": f"{area} {rng.choice(KINDS)} {hotel_id}",
                "phoneNumber": f"({'415' if city == 'San Francisco' else '510'}) 555-{1000 + hotel_id:04d}",
                "description": f"A {rng.choice(['quiet', 'lively', 'classic', 'modern'])} place to stay in {area}.",
                "address": {"streetNumber": str(rng.randint(1, 2999)), "streetName": street, "city": city,
                            "state": "CA", "country": "United States", "postalCode": postal},
                "images": [{"url": f"https://images.example/hotels/{hotel_id}/1.jpg", "default": True}],
            })
            base = rng.randint(89, 349)
            for code, factor in (("RACK", 1.0), ("AAA", 0.9)):
                for week in range(8):  # weekly plans from 2015-04-01
                    start = 1 + 7 * week
                    in_date, out_date = day(start), day(start + 7)
                    room, description, room_factor = rng.choice(ROOMS)
                    rate = round(base * factor * room_factor, 2)
                    rates.append({"hotelID": hotel_id, "code": code, "inDate": in_date, "outDate": out_date,
                                  "roomType": {"bookableRate": rate, "code": room, "description": description,
                                               "totalRate": rate, "totalRateInclusive": round(rate * 1.13, 2),
                                               "currency": "USD"}})
    customers = [{"customerId": i, "authToken": token} for i, token in
                 enumerate(["VALID_TOKEN", "TOKEN_ALICE", "TOKEN_BOB", "TOKEN_CAROL", "TOKEN_DAVE"], start=1)]
    for name, data in (("customers", customers), ("locations", locations), ("profiles", profiles),
                       ("rates", rates)):
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")


def day(n):
    """Day n counted from 2015-04-01 (n = 1) as YYYY-MM-DD, April and May only."""
    return f"2015-04-{n:02d}" if n <= 30 else f"2015-05-{n - 30:02d}"


if __name__ == "__main__":
    main()
