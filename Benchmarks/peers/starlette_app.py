"""Starlette with the benchmark's endpoints (uvicorn, uvloop, httptools, one worker)."""
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("Hello, World!")


async def json_endpoint(request):
    return JSONResponse({"message": "Hello, World!"})


async def echo(request):
    return Response(await request.body(), media_type="application/octet-stream")


app = Starlette(routes=[Route("/hello", hello), Route("/json", json_endpoint), Route("/echo", echo, methods=["POST"])])
