package dev.sparktune.serve;

import com.google.gson.JsonObject;
import java.io.IOException;

/** How an endpoint answers: one JSON body, or a stream of server-sent events. */
interface Exchange {
    /** Sends {@code body} with status 200 and ends the response. */
    void json(JsonObject body) throws IOException;

    /** Sends the headers of an event stream (status 200, text/event-stream); events follow. */
    void startEvents() throws IOException;

    /** Sends one {@code data: <json>} event. */
    void event(JsonObject data) throws IOException;

    /** Sends {@code data: [DONE]} and ends the response. */
    void done() throws IOException;
}
