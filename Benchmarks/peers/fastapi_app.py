"""FastAPI with the benchmark's endpoints (uvicorn, uvloop, httptools, one worker)."""
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

app = FastAPI()


@app.get("/hello")
async def hello():
    return PlainTextResponse("Hello, World!")


@app.get("/json")
async def json_endpoint():
    return JSONResponse({"message": "Hello, World!"})


@app.post("/echo")
async def echo(request: Request):
    return Response(await request.body(), media_type="application/octet-stream")
