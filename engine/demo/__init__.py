"""Demo data: the seeded queue, its simulated history and the demo shop API the routing actions call."""

from engine.demo.history import MODEL_VERSION, Story, enrich_demo_history, simulate_story
from engine.demo.reply_values import reply_values
from engine.demo.seed import bitext_requests, cfpb_requests, seed_demo_queue, split_queue_and_training
from engine.demo.shop import STORE_FILE, StoreData
from engine.demo.store_server import DemoStoreServer, accept_client, store_url, with_demo_store_client

__all__ = [
    "MODEL_VERSION",
    "STORE_FILE",
    "DemoStoreServer",
    "StoreData",
    "Story",
    "accept_client",
    "bitext_requests",
    "cfpb_requests",
    "enrich_demo_history",
    "reply_values",
    "seed_demo_queue",
    "simulate_story",
    "split_queue_and_training",
    "store_url",
    "with_demo_store_client",
]
