"""Inbound interactions: email threading and routing of messages, calls and chats."""
