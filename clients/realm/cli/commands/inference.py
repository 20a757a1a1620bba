"""`realm chat`, `realm generate` and `realm model load|ls|get|unload`: talking to the inference service."""

from __future__ import annotations

import argparse
import json
import sys

from realm.cli.common import add_output_flags, client, emit, err_console, rows, to_dict

MODEL_COLUMNS = ["name", "state", "backend", "source", "asset", "device", "dtype", "memory_bytes",
                 "active_requests", "error"]


def _add_generation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=0, help="0 = the service default")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=0.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--repetition-penalty", type=float, default=0.0)
    parser.add_argument("--stop", action="append", default=[], help="stop sequence (repeatable)")
    parser.add_argument("--seed", type=int, default=None)


def _params(args: argparse.Namespace) -> dict:
    return {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "top_p": args.top_p,
            "top_k": args.top_k, "repetition_penalty": args.repetition_penalty, "stop": args.stop,
            "seed": args.seed}


def _print_stream(call):
    """Write token texts as they arrive; returns the final message (summary + full text)."""
    out = sys.stdout
    final = None
    for message in call:
        if message.WhichOneof("item") == "token":
            out.write(message.token.text)
            out.flush()
        else:
            final = message
    return final


def _summary_line(summary) -> str:
    return (f"[{summary.generated_tokens} tokens, {summary.tokens_per_second:.1f} tok/s, "
            f"first token {summary.time_to_first_token_seconds * 1000:.0f} ms]")


def cmd_generate(args: argparse.Namespace) -> int:
    inference = client(args).inference
    if args.json:
        response = inference.generate(args.model, args.prompt, **_params(args))
        emit(args, response)
        return 0
    final = _print_stream(inference.stream(args.model, args.prompt, **_params(args)))
    print()
    if final is not None:
        err_console.print(_summary_line(final.summary), style="dim")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """An interactive chat: each line you type is a user turn; the reply streams back token by token."""
    inference = client(args).inference
    messages: list[dict[str, str]] = [{"role": "system", "content": args.system}] if args.system else []
    interactive = sys.stdin.isatty() and not args.json
    if interactive:
        err_console.print(f"chatting with {args.model} — /reset clears the conversation, /exit or Ctrl-D leaves",
                          style="dim")
    turns = [args.message] if args.message else None
    while True:
        if turns is not None:
            if not turns:
                return 0
            line = turns.pop(0)
        else:
            try:
                line = input("you> " if interactive else "")
            except EOFError:
                return 0
        line = line.strip()
        if not line:
            continue
        if line in ("/exit", "/quit"):
            return 0
        if line == "/reset":
            messages = messages[:1] if args.system else []
            continue
        messages.append({"role": "user", "content": line})
        if args.json:
            response = inference.chat(args.model, messages, **_params(args))
            print(json.dumps(to_dict(response), ensure_ascii=False))
            reply = response.message.content
        else:
            call = inference.chat_stream(args.model, messages, **_params(args))
            if interactive:
                sys.stdout.write(f"{args.model}> ")
            try:
                final = _print_stream(call)
            except KeyboardInterrupt:  # stop this reply (the service frees its slot), keep the chat
                call.cancel()
                print()
                messages.pop()
                continue
            print()
            reply = final.text if final is not None else ""
            if final is not None and interactive:
                err_console.print(_summary_line(final.summary), style="dim")
        messages.append({"role": "assistant", "content": reply})


def cmd_model_load(args: argparse.Namespace) -> int:
    inference = client(args).inference
    model = inference.load(args.source, model_id=args.id, wait=args.wait, backend=args.backend, dtype=args.dtype,
                           quantization=args.quantization)
    emit(args, model, MODEL_COLUMNS)
    return 0


def cmd_model_ls(args: argparse.Namespace) -> int:
    emit(args, rows(client(args).inference.models()), MODEL_COLUMNS)
    return 0


def cmd_model_get(args: argparse.Namespace) -> int:
    emit(args, client(args).inference.get(args.name))
    return 0


def cmd_model_unload(args: argparse.Namespace) -> int:
    client(args).inference.unload(args.name)
    emit(args, {"unloaded": args.name if args.name.startswith("models/") else f"models/{args.name}"})
    return 0


def register(subparsers) -> None:
    chat = subparsers.add_parser("chat", help="chat with a loaded model (streamed, interactive)")
    chat.add_argument("model", help="model id or models/{id}")
    chat.add_argument("--system", default="", help="system message")
    chat.add_argument("--message", "-m", help="send one message, print the reply and exit")
    _add_generation_flags(chat)
    add_output_flags(chat)
    chat.set_defaults(handler=cmd_chat)

    generate = subparsers.add_parser("generate", help="complete a raw prompt (streamed unless --json)")
    generate.add_argument("model")
    generate.add_argument("prompt")
    _add_generation_flags(generate)
    add_output_flags(generate)
    generate.set_defaults(handler=cmd_generate)

    model = subparsers.add_parser("model", help="load, list and unload models on the inference service")
    model_commands = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND")

    load = model_commands.add_parser("load", help="load a checkpoint: assets/…, campaigns/…/aliases/…, a "
                                                  "directory, or a TGI URL")
    load.add_argument("source")
    load.add_argument("--id", default="", help="model id (default: minted from the source)")
    load.add_argument("--wait", action="store_true", help="return when READY (or fail with the reason)")
    load.add_argument("--backend", choices=["", "transformers", "tgi"], default="")
    load.add_argument("--dtype", default="", help="float32 | bfloat16 | float16 (default: service config)")
    load.add_argument("--quantization", default="", help="4bit | 8bit (CUDA hosts only)")
    add_output_flags(load)
    load.set_defaults(handler=cmd_model_load)

    ls = model_commands.add_parser("ls", help="list models and their state")
    add_output_flags(ls)
    ls.set_defaults(handler=cmd_model_ls)

    get = model_commands.add_parser("get", help="show one model")
    get.add_argument("name")
    add_output_flags(get)
    get.set_defaults(handler=cmd_model_get)

    unload = model_commands.add_parser("unload", help="unload a model")
    unload.add_argument("name")
    add_output_flags(unload)
    unload.set_defaults(handler=cmd_model_unload)
