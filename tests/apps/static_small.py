"""weblet-static alone, for the memory test: argv PORT ROOT."""
from weblet import App
from weblet.static import Static
from testkit import serve, arg

app = App()
app.stream_chunk_size = 512  # the small-heap setting (see the guide's limits)
app.use(Static(arg(1)))
serve(app)
