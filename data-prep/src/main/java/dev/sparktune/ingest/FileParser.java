package dev.sparktune.ingest;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.univocity.parsers.common.TextParsingException;
import com.univocity.parsers.csv.CsvParser;
import com.univocity.parsers.csv.CsvParserSettings;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Reads one input file into {@link Outcome}s, on an executor: every record becomes a prepared row or a rejected
 * row whose reason says where (line, element, record), what was found and what was expected. Streamed formats
 * (JSONL) hold one line at a time; JSON arrays, CSV, text and e-mail files are read whole.
 *
 * <p>Positions in ids: JSONL the 1-based line, JSON arrays the 0-based element, CSV the 1-based data record,
 * text and e-mail files 0 (one row per file). Blank JSONL lines are not records. A file with no records at all is
 * one rejected row ("empty file").
 */
final class FileParser {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** Streams the elements of an array, so it must not insist that a value ends the input. */
    private static final ObjectMapper ARRAY = new ObjectMapper();
    /** Part of an over-size record kept in {@code _rejected/}. */
    static final int OVERSIZE_SAVED_BYTES = 1024;

    private final SourceFile file;
    private final RecordConverter converter;
    private final long maxRecordBytes;
    private final Consumer<Outcome> sink;

    FileParser(SourceFile file, RecordConverter converter, long maxRecordBytes, Consumer<Outcome> sink) {
        this.file = file;
        this.converter = converter;
        this.maxRecordBytes = maxRecordBytes;
        this.sink = sink;
    }

    void read(InputStream in) throws IOException {
        if (file.format() == null) {
            reject("cannot tell the file format from the name '" + file.relative()
                    + "'; set file_format (json, jsonl, csv, parquet, text, email) for dataset '" + file.dataset()
                    + "' in dataset_info.yaml", null);
            return;
        }
        switch (file.format()) {
            case JSONL -> jsonLines(in);
            case JSON -> jsonArray(in.readAllBytes());
            case CSV -> csv(in.readAllBytes());
            case TEXT -> wholeFile(in, false);
            case EMAIL -> wholeFile(in, true);
            case PARQUET -> throw new IllegalArgumentException("Parquet files are read by Spark, not streamed: " + file);
            default -> throw new IllegalStateException(file.format().toString());
        }
    }

    private void jsonLines(InputStream in) throws IOException {
        LineReader lines = new LineReader(in, maxRecordBytes);
        boolean any = false;
        while (lines.next()) {
            long lineNo = lines.lineNumber();
            if (lines.length() > maxRecordBytes) {
                any = true;
                oversize("line " + lineNo, lines.length(), lines.bytes(), lines.kept());
                continue;
            }
            byte[] bytes = lines.bytes();
            int n = lines.kept();
            if (isBlank(bytes, n)) {
                continue;
            }
            any = true;
            String text;
            try {
                text = strictUtf8(bytes, n);
            } catch (CharacterCodingException e) {
                reject("line " + lineNo + " is not UTF-8 text (" + e.getMessage() + "): binary data or another"
                        + " encoding; convert the file to UTF-8", lenient(bytes, n));
                continue;
            }
            record("line " + lineNo, lineNo, text);
        }
        if (!any) {
            reject("empty file: no records (" + lines.lineNumber() + " blank lines)", "");
        }
    }

    private void record(String where, long position, String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            reject(where + " is not valid JSON: " + e.getOriginalMessage() + " at column "
                    + e.getLocation().getColumnNr(), text);
            return;
        }
        convert(where, position, node, text);
    }

    private void convert(String where, long position, JsonNode node, String raw) {
        try {
            sink.accept(Outcome.kept(converter.convert(node, RecordIds.of(file.dataset(), file.relative(), position))));
        } catch (RecordProblem p) {
            reject(where + ": " + p.getMessage(), raw);
        }
    }

    private void jsonArray(byte[] bytes) throws IOException {
        if (isBlank(bytes, bytes.length)) {
            reject("empty file: no JSON array", "");
            return;
        }
        long index = 0;
        long start = 0;
        try (JsonParser parser = ARRAY.getFactory().createParser(bytes)) {
            if (parser.nextToken() != JsonToken.START_ARRAY) {
                reject("expected a JSON array of records ([{...}, {...}]) at line 1; for one object per line name"
                        + " the file .jsonl or set file_format: jsonl", lenient(bytes, bytes.length));
                return;
            }
            while (true) {
                JsonToken token = parser.nextToken();
                if (token == JsonToken.END_ARRAY || token == null) {
                    if (token == null) {
                        throw new com.fasterxml.jackson.core.JsonParseException(parser, "the array is not closed with ]");
                    }
                    break;
                }
                start = parser.currentTokenLocation().getByteOffset();
                int line = parser.currentTokenLocation().getLineNr();
                JsonNode node = parser.readValueAsTree();
                long end = parser.currentLocation().getByteOffset();
                String where = "element " + index + " (line " + line + ")";
                if (end - start > maxRecordBytes) {
                    oversize(where, end - start, slice(bytes, start, OVERSIZE_SAVED_BYTES), OVERSIZE_SAVED_BYTES);
                } else {
                    convert(where, index, node, new String(bytes, (int) start, (int) (end - start), StandardCharsets.UTF_8));
                }
                index++;
            }
            if (index == 0) {
                reject("empty file: the JSON array has no records", lenient(bytes, bytes.length));
            }
        } catch (JsonProcessingException e) {
            long from = index == 0 && start == 0 ? 0 : start;
            reject("element " + index + " and the rest of the file: not valid JSON at line " + e.getLocation().getLineNr()
                            + ", column " + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage()
                            + " (" + index + " elements before it were read)",
                    lenient(slice(bytes, from, Outcome.MAX_SAVED_CHARS), (int) Math.min(bytes.length - from, Outcome.MAX_SAVED_CHARS)));
        }
    }

    private void csv(byte[] bytes) {
        String text;
        try {
            text = strictUtf8(bytes, bytes.length);
        } catch (CharacterCodingException e) {
            reject("the CSV file is not UTF-8 text (" + e.getMessage() + "): binary data or another encoding;"
                    + " convert it to UTF-8", lenient(bytes, Math.min(bytes.length, Outcome.MAX_SAVED_CHARS)));
            return;
        }
        if (text.isBlank()) {
            reject("empty file: no CSV header and no records", text);
            return;
        }
        CsvParserSettings settings = new CsvParserSettings();
        settings.setMaxCharsPerColumn(-1);
        settings.setMaxColumns(10_000);
        settings.setLineSeparatorDetectionEnabled(true);
        // CSV has no null: an empty cell, quoted or not, is an empty string
        settings.setEmptyValue("");
        settings.setNullValue("");
        settings.setSkipEmptyLines(true);
        CsvParser parser = new CsvParser(settings);
        parser.beginParsing(new StringReader(text));
        try {
            String[] header = parser.parseNext();
            long recordNo = 0;
            String[] values;
            while ((values = parser.parseNext()) != null) {
                recordNo++;
                String raw = parser.getContext().currentParsedContent();
                raw = raw == null ? String.join(",", values) : raw.stripTrailing();
                String where = "record " + recordNo + " (line " + parser.getContext().currentLine() + ")";
                long size = raw.getBytes(StandardCharsets.UTF_8).length;
                if (size > maxRecordBytes) {
                    byte[] head = slice(raw.getBytes(StandardCharsets.UTF_8), 0, OVERSIZE_SAVED_BYTES);
                    oversize(where, size, head, head.length);
                    continue;
                }
                if (values.length != header.length) {
                    reject(where + " has " + values.length + " fields, the header has " + header.length + " ("
                            + String.join(", ", header) + ")", raw);
                    continue;
                }
                ObjectNode node = JsonNodeFactory.instance.objectNode();
                for (int i = 0; i < header.length; i++) {
                    node.put(header[i], values[i]);
                }
                convert(where, recordNo, node, raw);
            }
            if (recordNo == 0) {
                reject("empty file: a CSV header (" + String.join(", ", header) + ") and no records", text);
            }
        } catch (TextParsingException e) {
            reject("the CSV does not parse at line " + e.getLineIndex() + ": " + e.getMessage().lines().findFirst().orElse(""),
                    text.substring(0, Math.min(text.length(), Outcome.MAX_SAVED_CHARS)));
        } finally {
            parser.stopParsing();
        }
    }

    private void wholeFile(InputStream in, boolean email) throws IOException {
        String kind = email ? "e-mail" : "text";
        if (file.length() > maxRecordBytes) {
            byte[] head = in.readNBytes(OVERSIZE_SAVED_BYTES);
            oversize("the " + kind + " file", file.length(), head, head.length);
            return;
        }
        byte[] bytes = in.readAllBytes();
        if (isBlank(bytes, bytes.length)) {
            reject("empty file: the " + kind + " file holds no text", "");
            return;
        }
        String id = RecordIds.of(file.dataset(), file.relative(), 0);
        if (email) {
            try {
                sink.accept(Outcome.kept(converter.text(EmailText.of(bytes), id)));
            } catch (RecordProblem p) {
                reject(p.getMessage(), lenient(bytes, bytes.length));
            }
            return;
        }
        String text;
        try {
            text = strictUtf8(bytes, bytes.length);
        } catch (CharacterCodingException e) {
            reject("not UTF-8 text (" + e.getMessage() + "): binary data or another encoding; convert the file"
                    + " to UTF-8", lenient(bytes, bytes.length));
            return;
        }
        if (text.indexOf('\0') >= 0) {
            reject("binary data: the text file holds NUL bytes", lenient(bytes, bytes.length));
            return;
        }
        sink.accept(Outcome.kept(converter.text(text, id)));
    }

    private void oversize(String where, long size, byte[] head, int headLength) {
        reject(String.format(Locale.ROOT, "%s is %,d bytes, over data.max_record_bytes = %,d; raise the limit or"
                        + " split the record (its first %,d bytes are kept here)", where, size, maxRecordBytes,
                Math.min(headLength, OVERSIZE_SAVED_BYTES)),
                lenient(head, Math.min(headLength, OVERSIZE_SAVED_BYTES)));
    }

    private void reject(String reason, String record) {
        sink.accept(Outcome.rejected(reason, file, record));
    }

    private static byte[] slice(byte[] bytes, long from, int max) {
        int n = (int) Math.min(max, bytes.length - from);
        byte[] out = new byte[n];
        System.arraycopy(bytes, (int) from, out, 0, n);
        return out;
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
