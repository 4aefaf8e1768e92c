package dev.sparktune.ingest;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.univocity.parsers.csv.CsvParser;
import com.univocity.parsers.csv.CsvParserSettings;
import dev.sparktune.rows.RecordFailure;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Locale;
import java.util.NoSuchElementException;

/**
 * Reads one input file into {@link Outcome}s, on an executor, as an iterator: every record becomes a prepared row
 * or a rejected row whose reason says where (line, element, record), what was found and what was expected.
 *
 * <p>Memory per file is bounded by {@code data.max_record_bytes}, not by the file: JSONL is read line by line, JSON
 * arrays element by element (Jackson's streaming parser skips each element once to find its end, then only an
 * element within the limit is parsed), CSV record by record ({@link CsvRecords}), and text and e-mail files, one
 * record each, are refused unread beyond the limit. Outcomes are handed on as they are made, not gathered per file.
 *
 * <p>Nothing a record holds fails the task (issue 19): a record whose conversion throws is rejected with the
 * reason ({@link RecordFailure}); when the file itself cannot be followed any further (JSON that does not parse,
 * a CSV quote never closed, bytes that are not UTF-8 in a CSV), the rest of the file is one rejected row that says
 * so. Only the file system's own read errors fail the task, so that Spark retries it.
 *
 * <p>Positions in ids: JSONL the 1-based line, JSON arrays the 0-based element, CSV the 1-based data record,
 * text and e-mail files 0 (one row per file). Blank JSONL lines and blank CSV lines are not records. A file with no
 * records at all is one rejected row ("empty file").
 */
final class FileParser implements Iterator<Outcome>, Closeable {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** Streams the elements of an array, so it must not insist that a value ends the input. */
    private static final ObjectMapper ARRAY = new ObjectMapper();
    /** Part of an over-size record kept in {@code _rejected/}. */
    static final int OVERSIZE_SAVED_BYTES = 1024;

    /** Reads one record (or a file's preamble), adding its outcomes; false once the file is done. */
    private interface Step {
        boolean next() throws IOException;
    }

    private final SourceFile file;
    private final RecordConverter converter;
    private final long maxRecordBytes;
    private final InputStream in;
    private final ArrayDeque<Outcome> pending = new ArrayDeque<>();
    /** Where in the file the current step is, for a reason that stops reading ("line 12", "record 3 (line 5)"). */
    private String at = "the start";
    private Step step;

    FileParser(SourceFile file, RecordConverter converter, long maxRecordBytes, InputStream in) {
        this.file = file;
        this.converter = converter;
        this.maxRecordBytes = maxRecordBytes;
        this.in = in;
        if (file.format() == null) {
            reject("cannot tell the file format from the name '" + file.relative()
                    + "'; set file_format (json, jsonl, csv, parquet, text, email) for dataset '" + file.dataset()
                    + "' in dataset_info.yaml", null);
            return;
        }
        step = switch (file.format()) {
            case JSONL -> new JsonLines();
            case JSON -> new JsonArray();
            case CSV -> new Csv();
            case TEXT -> () -> wholeFile(false);
            case EMAIL -> () -> wholeFile(true);
            case PARQUET -> throw new IllegalArgumentException("Parquet files are read by Spark, not streamed: " + file);
        };
    }

    @Override
    public boolean hasNext() {
        while (pending.isEmpty() && step != null) {
            advance();
        }
        if (pending.isEmpty()) {
            close();
        }
        return !pending.isEmpty();
    }

    @Override
    public Outcome next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return pending.poll();
    }

    @Override
    public void close() {
        step = null;
        try {
            in.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + file.path(), e);
        }
    }

    private void advance() {
        try {
            if (!step.next()) {
                step = null;
            }
        } catch (IOException e) {
            // the file system failed, not a record: fail the task so that Spark retries it
            throw new UncheckedIOException("cannot read " + file.path() + " at " + at, e);
        } catch (Throwable t) {
            step = null;
            reject(RecordFailure.reason("reading " + at, t) + "; the rest of the file is not read", null);
        }
    }

    private final class JsonLines implements Step {
        private final LineReader lines = new LineReader(in, maxRecordBytes);
        private boolean any;

        @Override
        public boolean next() throws IOException {
            if (!lines.next()) {
                if (!any) {
                    reject("empty file: no records (" + lines.lineNumber() + " blank lines)", "");
                }
                return false;
            }
            long lineNo = lines.lineNumber();
            at = "line " + lineNo;
            if (lines.length() > maxRecordBytes) {
                any = true;
                oversize("line " + lineNo, lines.length(), lines.bytes(), lines.kept());
                return true;
            }
            byte[] bytes = lines.bytes();
            int n = lines.kept();
            if (isBlank(bytes, n)) {
                return true;
            }
            any = true;
            String text;
            try {
                text = strictUtf8(bytes, n);
            } catch (CharacterCodingException e) {
                reject("line " + lineNo + " is not UTF-8 text (" + e.getMessage() + "): binary data or another"
                        + " encoding; convert the file to UTF-8", lenient(bytes, n));
                return true;
            }
            record("line " + lineNo, lineNo, text);
            return true;
        }
    }

    private void record(String where, long position, String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            reject(where + " is not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at column " + e.getLocation().getColumnNr()), text);
            return;
        }
        convert(where, position, node, text);
    }

    private void convert(String where, long position, JsonNode node, String raw) {
        try {
            pending.add(Outcome.kept(converter.convert(node, RecordIds.of(file.dataset(), file.relative(), position))));
        } catch (RecordProblem p) {
            reject(where + ": " + p.getMessage(), raw);
        } catch (Throwable t) {
            reject(where + ": " + RecordFailure.reason("converting the record", t), raw);
        }
    }

    /**
     * A JSON array, element by element: each element is skipped through once by the streaming parser (which finds
     * its end without building it), and one within {@code max_record_bytes} is then parsed from its own bytes, kept
     * by a {@link Recorder}, like a JSONL line.
     */
    private final class JsonArray implements Step {
        private final Recorder recorder = new Recorder(in, maxRecordBytes);
        private JsonParser parser;
        private long index;
        private long start;

        @Override
        public boolean next() throws IOException {
            try {
                if (parser == null) {
                    parser = ARRAY.getFactory().createParser(recorder);
                    JsonToken first = parser.nextToken();
                    if (first == null) {
                        reject("empty file: no JSON array", "");
                        return false;
                    }
                    if (first != JsonToken.START_ARRAY) {
                        reject("expected a JSON array of records ([{...}, {...}]) at line 1; for one object per line"
                                + " name the file .jsonl or set file_format: jsonl", lenient(recorder.from(0)));
                        return false;
                    }
                    return true;
                }
                at = "element " + index;
                JsonToken token = parser.nextToken();
                if (token == JsonToken.END_ARRAY) {
                    if (index == 0) {
                        reject("empty file: the JSON array has no records", "[]");
                    }
                    return false;
                }
                if (token == null) {
                    throw new JsonParseException(parser, "the array is not closed with ]");
                }
                start = parser.currentTokenLocation().getByteOffset();
                int line = parser.currentTokenLocation().getLineNr();
                recorder.keepFrom(start);
                parser.skipChildren();
                long end = parser.currentLocation().getByteOffset();
                String where = "element " + index + " (line " + line + ")";
                byte[] raw = end - start > maxRecordBytes ? null : recorder.slice(start, end);
                if (end - start > maxRecordBytes) {
                    byte[] head = recorder.from(start);
                    oversize(where, end - start, head, Math.min(head.length, OVERSIZE_SAVED_BYTES));
                } else if (raw == null) {
                    reject(where + ": its bytes were not kept: more than data.max_record_bytes of whitespace came"
                            + " before it", "");
                } else {
                    String text = lenient(raw);
                    JsonNode node;
                    try {
                        node = JSON.readTree(text);
                    } catch (JsonProcessingException e) {
                        throw new IllegalStateException("an element the streaming parser read whole does not parse"
                                + " alone: " + e.getOriginalMessage(), e);
                    }
                    convert(where, index, node, text);
                }
                index++;
                return true;
            } catch (JsonProcessingException e) {
                recorder.readAhead(Outcome.MAX_SAVED_CHARS);
                byte[] rest = recorder.from(index == 0 && start == 0 ? 0 : start);
                // a limit (StreamConstraintsException: nesting depth, string length) has no location
                String location = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                        + ", column " + e.getLocation().getColumnNr();
                reject("element " + index + " and the rest of the file: not valid JSON" + location + ": "
                        + e.getOriginalMessage() + " (" + index + " elements before it were read)",
                        lenient(rest.length <= Outcome.MAX_SAVED_CHARS ? rest
                                : java.util.Arrays.copyOf(rest, Outcome.MAX_SAVED_CHARS)));
                return false;
            }
        }
    }

    /**
     * CSV, record by record: {@link CsvRecords} cuts the text at line breaks outside quotes (holding at most
     * {@code max_record_bytes} of a record), univocity splits each record into fields. A quote that is never closed
     * would swallow every later record into one field: such a record is rejected, saying which lines it swallowed,
     * and so is a quoted field that runs over lines that look like records of their own.
     */
    private final class Csv implements Step {
        private CsvRecords records;
        private CsvParser fields;
        private String[] header;
        private long recordNo;

        @Override
        public boolean next() throws IOException {
            try {
                if (records == null) {
                    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
                    records = new CsvRecords(new InputStreamReader(in, decoder), maxRecordBytes);
                    fields = fieldParser();
                }
                if (header == null) {
                    return readHeader();
                }
                if (!records.next()) {
                    if (recordNo == 0) {
                        reject("empty file: a CSV header (" + String.join(", ", header) + ") and no records",
                                String.join(",", header));
                    }
                    return false;
                }
                if (records.text().isBlank() && !records.oversize()) {
                    return true;
                }
                recordNo++;
                String where = "record " + recordNo + " (line " + records.lastLine() + ")";
                at = where;
                if (records.oversize()) {
                    byte[] head = slice(records.text().getBytes(StandardCharsets.UTF_8), 0, OVERSIZE_SAVED_BYTES);
                    oversize(where + (records.unclosed() ? " (from line " + records.firstLine() + ", where a quote"
                            + " opens that is never closed)" : ""), records.bytes(), head, head.length);
                    return true;
                }
                String raw = records.text().stripTrailing();
                String swallowed = swallowed();
                if (swallowed != null) {
                    reject("record " + recordNo + " (lines " + records.firstLine() + "-" + records.lastLine() + "): "
                            + swallowed, raw);
                    return true;
                }
                String[] values = fields.parseLine(raw);
                values = values == null ? new String[] {""} : values;
                if (values.length != header.length) {
                    reject(where + " has " + values.length + " fields, the header has " + header.length + " ("
                            + String.join(", ", header) + ")", raw);
                    return true;
                }
                ObjectNode node = JsonNodeFactory.instance.objectNode();
                for (int i = 0; i < header.length; i++) {
                    node.put(header[i], values[i]);
                }
                convert(where, recordNo, node, raw);
                return true;
            } catch (CharacterCodingException e) {
                reject("record " + (recordNo + 1) + " and the rest of the file (from line " + records.firstLine()
                        + "): not UTF-8 text (" + e.getMessage() + "): binary data or another encoding; convert the"
                        + " file to UTF-8", records.text());
                return false;
            }
        }

        private boolean readHeader() throws IOException {
            while (records.next()) {
                if (records.oversize()) {
                    byte[] head = slice(records.text().getBytes(StandardCharsets.UTF_8), 0, OVERSIZE_SAVED_BYTES);
                    oversize("the CSV header (line " + records.lastLine() + ")", records.bytes(), head, head.length);
                    return false;
                }
                if (!records.text().isBlank()) {
                    header = fields.parseLine(records.text().stripTrailing());
                    return true;
                }
            }
            reject("empty file: no CSV header and no records", "");
            return false;
        }

        /** Why the record is the work of an unmatched quote, or null. */
        private String swallowed() {
            if (records.unclosed()) {
                return "a quote opened here is never closed, so every line after it, to the end of the file ("
                        + (records.lastLine() - records.firstLine()) + " lines), would be one field; fix the quoting"
                        + " (a quote inside a field is written \"\")";
            }
            if (header.length < 2 || records.firstLine() == records.lastLine()) {
                return null;
            }
            String[] lines = records.text().stripTrailing().split("\n", -1);
            for (int i = 1; i < lines.length - 1; i++) {
                String line = lines[i];
                if (line.indexOf('"') < 0 && line.split(",", -1).length == header.length) {
                    return "a quoted field runs over " + (lines.length - 1) + " line breaks, and line "
                            + (records.firstLine() + i) + " inside it looks like a record of its own ("
                            + header.length + " fields, no quotes): a quote left open swallowed it; fix the quoting";
                }
            }
            return null;
        }
    }

    private static CsvParser fieldParser() {
        CsvParserSettings settings = new CsvParserSettings();
        settings.setMaxCharsPerColumn(-1); // a record is already at most max_record_bytes
        settings.setMaxColumns(10_000);
        settings.getFormat().setLineSeparator("\n");
        // CSV has no null: an empty cell, quoted or not, is an empty string
        settings.setEmptyValue("");
        settings.setNullValue("");
        return new CsvParser(settings);
    }

    private boolean wholeFile(boolean email) throws IOException {
        String kind = email ? "e-mail" : "text";
        at = "the " + kind + " file";
        byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 16, maxRecordBytes + 1));
        if (bytes.length > maxRecordBytes || file.length() > maxRecordBytes) {
            oversize("the " + kind + " file", Math.max(file.length(), bytes.length), bytes,
                    Math.min(bytes.length, OVERSIZE_SAVED_BYTES));
            return false;
        }
        if (isBlank(bytes, bytes.length)) {
            reject("empty file: the " + kind + " file holds no text", "");
            return false;
        }
        String id = RecordIds.of(file.dataset(), file.relative(), 0);
        if (email) {
            try {
                pending.add(Outcome.kept(converter.text(EmailText.of(bytes), id)));
            } catch (RecordProblem p) {
                reject(p.getMessage(), lenient(bytes, bytes.length));
            } catch (Throwable t) {
                reject(RecordFailure.reason("reading the e-mail", t), lenient(bytes, bytes.length));
            }
            return false;
        }
        String text;
        try {
            text = strictUtf8(bytes, bytes.length);
        } catch (CharacterCodingException e) {
            reject("not UTF-8 text (" + e.getMessage() + "): binary data or another encoding; convert the file"
                    + " to UTF-8", lenient(bytes, bytes.length));
            return false;
        }
        if (text.indexOf('\0') >= 0) {
            reject("binary data: the text file holds NUL bytes", lenient(bytes, bytes.length));
            return false;
        }
        pending.add(Outcome.kept(converter.text(text, id)));
        return false;
    }

    private void oversize(String where, long size, byte[] head, int headLength) {
        reject(String.format(Locale.ROOT, "%s is %,d bytes, over data.max_record_bytes = %,d; raise the limit or"
                        + " split the record (its first %,d bytes are kept here)", where, size, maxRecordBytes,
                Math.min(headLength, OVERSIZE_SAVED_BYTES)),
                lenient(head, Math.min(headLength, OVERSIZE_SAVED_BYTES)));
    }

    private void reject(String reason, String record) {
        pending.add(Outcome.rejected(reason, file, record));
    }

    private static byte[] slice(byte[] bytes, long from, int max) {
        int n = (int) Math.min(max, bytes.length - from);
        byte[] out = new byte[n];
        System.arraycopy(bytes, (int) from, out, 0, n);
        return out;
    }

    private static String lenient(byte[] bytes) {
        return lenient(bytes, bytes.length);
    }

    /**
     * An input stream that keeps the bytes read through it from a mark on, so that the JSON array reader can take an
     * element's own bytes after the streaming parser (which reads ahead) has passed it. It holds at most
     * {@code limit} plus a read-ahead margin: past that it keeps the first {@value #OVERSIZE_SAVED_BYTES} bytes from
     * the mark and the most recent bytes, so the next element's start is still there after an over-size one.
     */
    static final class Recorder extends FilterInputStream {
        private static final int READ_AHEAD = 64 * 1024;
        private final int capacity;
        private byte[] kept = new byte[8192];
        private int length;
        /** The offset in the stream of {@code kept[0]}. */
        private long base;
        /** The offset in the stream of the next byte read. */
        private long position;
        private long mark;
        /** The first bytes from the mark, once the window has moved past the mark; else null. */
        private byte[] markHead;

        Recorder(InputStream in, long limit) {
            super(in);
            this.capacity = (int) Math.min(Integer.MAX_VALUE - 16L - 2L * READ_AHEAD, limit) + 2 * READ_AHEAD;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n <= 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                keep(b, off, n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            byte[] buffer = new byte[(int) Math.min(n, 8192)];
            int r = read(buffer, 0, buffer.length);
            return Math.max(r, 0);
        }

        /** Reads up to {@code n} more bytes into the window (for the text of a rejected rest of file). */
        void readAhead(int n) throws IOException {
            byte[] buffer = new byte[8192];
            int left = n;
            int r;
            while (left > 0 && (r = read(buffer, 0, Math.min(left, buffer.length))) > 0) {
                left -= r;
            }
        }

        private void keep(byte[] b, int off, int n) {
            if (length + n > kept.length) {
                kept = java.util.Arrays.copyOf(kept, (int) Math.min(capacity + 8192L,
                        Math.max(length + (long) n, 2L * kept.length)));
            }
            if (length + n > capacity) {
                int drop = Math.min(length, length + n - READ_AHEAD);
                if (markHead == null && base <= mark && mark < base + length) {
                    int from = (int) (mark - base);
                    markHead = java.util.Arrays.copyOfRange(kept, from, Math.min(length, from + OVERSIZE_SAVED_BYTES));
                }
                System.arraycopy(kept, drop, kept, 0, length - drop);
                length -= drop;
                base += drop;
                if (n > kept.length - length) { // one read larger than the window: keep its end
                    int skip = n - (kept.length - length);
                    off += skip;
                    n -= skip;
                    base += skip;
                }
            }
            System.arraycopy(b, off, kept, length, n);
            length += n;
            position += n;
        }

        /** Marks {@code offset} and forgets what came before it. */
        void keepFrom(long offset) {
            mark = offset;
            markHead = null;
            if (offset <= base) {
                return;
            }
            int drop = (int) Math.min(length, offset - base);
            System.arraycopy(kept, drop, kept, 0, length - drop);
            length -= drop;
            base += drop;
        }

        /** The bytes {@code [from, to)}, or null when they are not all kept. */
        byte[] slice(long from, long to) {
            if (from < base || to > base + length) {
                return null;
            }
            return java.util.Arrays.copyOfRange(kept, (int) (from - base), (int) (to - base));
        }

        /** What is kept from {@code from} on; from the mark, at least its first bytes. */
        byte[] from(long from) {
            if (from >= base && from < base + length) {
                return java.util.Arrays.copyOfRange(kept, (int) (from - base), length);
            }
            return from == mark && markHead != null ? markHead : new byte[0];
        }
    }

    /**
     * The records of a CSV stream: text up to a line break (LF, CRLF or CR) outside quotes. A quote opens a quoted
     * field only at the start of a field (after spaces); inside one, {@code ""} is a quote and a lone {@code "} ends
     * it (RFC 4180, as univocity reads it). Line breaks inside quotes become LF. At most {@code limit} characters of
     * a record are held; a longer one is measured and {@link #oversize()}.
     */
    static final class CsvRecords {
        private final Reader in;
        private final long limit;
        private final StringBuilder text = new StringBuilder();
        private long bytes;
        private long line = 1;
        private long firstLine;
        private long lastLine;
        private boolean unclosed;
        private int peeked = -2;

        CsvRecords(Reader in, long limit) {
            this.in = in;
            this.limit = limit;
        }

        boolean next() throws IOException {
            text.setLength(0);
            bytes = 0;
            unclosed = false;
            firstLine = line;
            boolean any = false;
            boolean fieldStart = true;
            boolean quoted = false;
            while (true) {
                int c = read();
                if (c < 0) {
                    unclosed = quoted;
                    lastLine = text.length() > 0 && text.charAt(text.length() - 1) == '\n' ? line - 1 : line;
                    return any;
                }
                any = true;
                if (c == '\r') {
                    if (peek() == '\n') {
                        read();
                    }
                    c = '\n';
                }
                if (c == '\n') {
                    if (!quoted) {
                        lastLine = line;
                        line++;
                        return true;
                    }
                    line++;
                } else if (quoted) {
                    if (c == '"') {
                        if (peek() == '"') {
                            append((char) c);
                            c = read();
                        } else {
                            quoted = false;
                        }
                    }
                } else if (c == ',') {
                    fieldStart = true;
                    append((char) c);
                    continue;
                } else if (c == '"' && fieldStart) {
                    quoted = true;
                } else if (c == ' ' || c == '\t') {
                    append((char) c);
                    continue;
                }
                fieldStart = false;
                append((char) c);
            }
        }

        private void append(char c) {
            bytes += c < 0x80 ? 1 : c < 0x800 || Character.isSurrogate(c) ? 2 : 3;
            if (text.length() <= limit) {
                text.append(c);
            }
        }

        private int read() throws IOException {
            if (peeked != -2) {
                int c = peeked;
                peeked = -2;
                return c;
            }
            return in.read();
        }

        private int peek() throws IOException {
            if (peeked == -2) {
                peeked = in.read();
            }
            return peeked;
        }

        /** The record (its first {@code limit + 1} characters when over size), line breaks as LF. */
        String text() {
            return text.toString();
        }

        /** The record's length in UTF-8 bytes, line breaks counted as one. */
        long bytes() {
            return bytes;
        }

        boolean oversize() {
            return bytes > limit;
        }

        /** True when the record ended with the file inside a quoted field. */
        boolean unclosed() {
            return unclosed;
        }

        long firstLine() {
            return firstLine;
        }

        long lastLine() {
            return lastLine;
        }
    }

    private static boolean isBlank(byte[] bytes, int n) {
        for (int i = 0; i < n; i++) {
            byte b = bytes[i];
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                return false;
            }
        }
        return true;
    }

    private static String strictUtf8(byte[] bytes, int n) throws CharacterCodingException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        return decoder.decode(ByteBuffer.wrap(bytes, 0, n)).toString();
    }

    /** Raw bytes as text for {@code _rejected/}: invalid UTF-8 shows as U+FFFD. */
    private static String lenient(byte[] bytes, int n) {
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    /** Lines of a stream, holding at most {@code limit + 1} bytes of each; longer lines are measured, not kept. */
    static final class LineReader {
        private final InputStream in;
        private final byte[] buffer = new byte[64 * 1024];
        private int pos;
        private int end;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();
        private final int keep;
        private long length;
        private long lineNumber;
        private byte[] bytes = new byte[0];

        LineReader(InputStream in, long limit) {
            this.in = in;
            this.keep = (int) Math.min(Integer.MAX_VALUE - 16, limit + 1);
        }

        boolean next() throws IOException {
            line.reset();
            length = 0;
            boolean any = false;
            while (true) {
                if (pos == end) {
                    end = in.read(buffer);
                    pos = 0;
                    if (end <= 0) {
                        end = 0;
                        if (!any) {
                            return false;
                        }
                        break;
                    }
                }
                any = true;
                int start = pos;
                while (pos < end && buffer[pos] != '\n') {
                    pos++;
                }
                int n = pos - start;
                int room = (int) Math.max(0, keep - line.size());
                line.write(buffer, start, Math.min(n, room));
                length += n;
                if (pos < end) {
                    pos++;
                    break;
                }
            }
            lineNumber++;
            bytes = line.toByteArray();
            int kept = bytes.length;
            if (kept > 0 && bytes[kept - 1] == '\r' && length <= keep) {
                length--;
                bytes = java.util.Arrays.copyOf(bytes, kept - 1);
            }
            return true;
        }

        long lineNumber() {
            return lineNumber;
        }

        /** The whole line's length in bytes, without its line break. */
        long length() {
            return length;
        }

        byte[] bytes() {
            return bytes;
        }

        int kept() {
            return bytes.length;
        }
    }
}
