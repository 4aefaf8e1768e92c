package dev.sparktune.ingest;

import dev.sparktune.clean.HtmlText;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.MimeIOException;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.dom.Body;
import org.apache.james.mime4j.dom.Entity;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.dom.SingleBody;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.james.mime4j.stream.MimeConfig;

/**
 * The text a classifier or a language model should see of one RFC 822 message: the decoded Subject, a blank line,
 * then the body (CRLF line ends as LF). Routing and mailing-list headers ({@code Received}, {@code Return-Path}, {@code List-*}, the mbox
 * {@code From } line) are dropped: they differ between sources and would leak where a message came from.
 *
 * <p>The body is the first {@code text/plain} part that is not an attachment (depth-first through nested
 * multiparts); failing that, the first {@code text/html} part converted to text. A plain part with under a
 * {@value #STUB_WORD_RATIO}th of the words of the HTML part beside it in the same {@code multipart/alternative} is a
 * stub or a broken alternative (newsletters sent "your e-mail program does not support HTML-enhanced messages", or a
 * few stray characters, as their plain text): then the HTML's text is the body, as a mail client would show it.
 * HTML elsewhere in the message (a forwarded newsletter under a short reply) never replaces the plain part. Transfer encodings
 * (quoted-printable, base64) and charsets are decoded by Apache James mime4j; a charset Java does not know is
 * read as UTF-8 when the bytes are valid UTF-8 and as windows-1252 otherwise, the usual meaning of mislabelled mail.
 *
 * <p>Rejected: files that do not start with header lines, binary files, multiparts whose boundary is missing or
 * never appears, parts nested more than {@value #MAX_NESTING} deep, and messages with neither a Subject nor any text.
 *
 * <p>The nesting bound is checked on the raw text before mime4j sees it: mime4j reads nested multiparts through
 * nested boundary streams, and each level of nesting adds frames to the stack while it reads, so that some
 * thousands of levels (well within {@code max_record_bytes}) overflowed a task's stack (issue 19).
 */
final class EmailText {
    private static final Charset FALLBACK = Charset.forName("windows-1252");
    /** Multipart and message parts nested deeper than this are rejected; real mail nests a handful deep. */
    static final int MAX_NESTING = 64;
    /** A plain part with fewer than 1/this of the HTML part's words does not stand for the message. */
    static final int STUB_WORD_RATIO = 4;

    private EmailText() {
    }

    static String of(byte[] raw) throws RecordProblem {
        int start = skipMboxLine(raw);
        checkLooksLikeMail(raw, start);
        checkNesting(raw, start);
        Message message;
        try {
            DefaultMessageBuilder builder = new DefaultMessageBuilder();
            builder.setMimeEntityConfig(MimeConfig.custom()
                    .setMaxLineLen(-1).setMaxHeaderLen(-1).setMaxHeaderCount(-1).setMaxContentLen(-1).build());
            builder.setDecodeMonitor(DecodeMonitor.SILENT);
            message = builder.parseMessage(new ByteArrayInputStream(raw, start, raw.length - start));
        } catch (MimeIOException e) {
            throw new RecordProblem("broken MIME: " + e.getMessage());
        } catch (IOException e) {
            throw new RecordProblem("cannot read the message: " + e.getMessage());
        }
        String subject = message.getSubject();
        subject = subject == null ? "" : subject.strip();
        String body;
        try {
            body = body(message);
        } catch (IOException | MimeException e) {
            throw new RecordProblem("broken MIME body: " + e.getMessage());
        }
        body = body == null ? "" : body.replace("\r\n", "\n").strip();
        if (subject.isEmpty() && body.isEmpty()) {
            throw new RecordProblem("the message has no Subject and no text/plain or text/html body");
        }
        return subject.isEmpty() ? body : body.isEmpty() ? subject : subject + "\n\n" + body;
    }

    /** A part's decoded text, and the {@code multipart/alternative} that most closely holds it (null: none). */
    private record Found(String text, Multipart alternative) {
    }

    /**
     * The first plain part's text, or the HTML's text where there is no plain part, or where the plain part is a stub
     * of the HTML alternative beside it in the same {@code multipart/alternative} ({@link #STUB_WORD_RATIO}).
     */
    private static String body(Message message) throws IOException, MimeException {
        Found plain = first(message, "text/plain", null);
        if (plain == null) {
            Found html = first(message, "text/html", null);
            return html == null ? null : HtmlText.of(html.text());
        }
        if (plain.alternative() == null) {
            return plain.text();
        }
        String html = null;
        try {
            for (Entity part : plain.alternative().getBodyParts()) {
                Found found = first(part, "text/html", null);
                if (found != null) {
                    html = found.text();
                    break;
                }
            }
        } catch (IOException | MimeException brokenAlternative) {
            return plain.text();   // the plain part stands; a broken sibling does not reject the message
        }
        int plainWords = words(plain.text());
        // a word takes at least one character and a separator: HTML this short cannot hold enough words to win
        if (html == null || (html.length() + 1) / 2 <= (long) STUB_WORD_RATIO * plainWords) {
            return plain.text();
        }
        String htmlText = HtmlText.of(html);
        return (long) STUB_WORD_RATIO * plainWords < words(htmlText) ? htmlText : plain.text();
    }

    private static int words(String text) {
        int count = 0;
        boolean inWord = false;
        for (int i = 0; i < text.length(); i++) {
            boolean space = Character.isWhitespace(text.charAt(i));
            count += !space && !inWord ? 1 : 0;
            inWord = !space;
        }
        return count;
    }

    /**
     * Depth-first search for the first inline part of {@code mimeType}; {@code alternative} is the closest enclosing
     * {@code multipart/alternative} so far (a forwarded message starts afresh).
     */
    private static Found first(Entity entity, String mimeType, Multipart alternative) throws IOException, MimeException {
        Body body = entity.getBody();
        if (body instanceof Multipart multipart) {
            if (multipart.getBodyParts().isEmpty()) {
                String boundary = entity.getHeader().getField("Content-Type") == null ? null
                        : boundaryOf(entity.getHeader().getField("Content-Type").getBody());
                throw new MimeException(boundary == null
                        ? "a " + entity.getMimeType() + " part without a boundary parameter"
                        : "a " + entity.getMimeType() + " whose boundary '" + boundary + "' never appears");
            }
            Multipart enclosing = "alternative".equalsIgnoreCase(multipart.getSubType()) ? multipart : alternative;
            for (Entity part : multipart.getBodyParts()) {
                Found found = first(part, mimeType, enclosing);
                if (found != null) {
                    return found;
                }
            }
            return null;
        }
        if (body instanceof Message nested) {
            return first(nested, mimeType, null);
        }
        String declared = declaredType(entity);
        if (declared.startsWith("multipart/")) {
            // mime4j reads a multipart without a boundary as text/plain, RFC 2046's default
            throw new MimeException("a " + declared + " part without a boundary parameter");
        }
        boolean attachment = "attachment".equalsIgnoreCase(entity.getDispositionType());
        if (attachment || !mimeType.equalsIgnoreCase(entity.getMimeType()) || !(body instanceof SingleBody single)) {
            return null;
        }
        try (InputStream in = single.getInputStream()) {
            return new Found(decode(in.readAllBytes(), entity.getCharset()), alternative);
        }
    }

    private static String declaredType(Entity entity) {
        var field = entity.getHeader() == null ? null : entity.getHeader().getField("Content-Type");
        if (field == null || field.getBody() == null) {
            return "";
        }
        String type = field.getBody().strip().toLowerCase(Locale.ROOT);
        int semicolon = type.indexOf(';');
        return (semicolon < 0 ? type : type.substring(0, semicolon)).strip();
    }

    private static String boundaryOf(String contentType) {
        int i = contentType.toLowerCase(Locale.ROOT).indexOf("boundary=");
        if (i < 0) {
            return null;
        }
        String b = contentType.substring(i + "boundary=".length()).strip();
        int end = b.indexOf(';');
        b = end < 0 ? b : b.substring(0, end);
        return b.replace("\"", "").strip();
    }

    static String decode(byte[] bytes, String charsetName) {
        Charset charset = null;
        try {
            if (charsetName != null && Charset.isSupported(charsetName.strip())) {
                charset = Charset.forName(charsetName.strip());
            }
        } catch (IllegalArgumentException illegalName) {
            charset = null;
        }
        if (charset == null) {
            charset = validUtf8(bytes) ? StandardCharsets.UTF_8 : FALLBACK;
        }
        return new String(bytes, charset);
    }

    private static boolean validUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    /**
     * Rejects a message whose parts nest deeper than {@link #MAX_NESTING}, judged from its lines alone: every
     * {@code boundary=} parameter opens a level until its closing {@code --boundary--} line, and every
     * {@code message/rfc822} part adds one. It can only overestimate the depth mime4j would see (a boundary
     * parameter quoted in a body counts too), never miss a level.
     */
    static void checkNesting(byte[] raw, int start) throws RecordProblem {
        java.util.ArrayDeque<String> open = new java.util.ArrayDeque<>();
        int messages = 0;
        int lineStart = start;
        for (int i = start; i <= raw.length; i++) {
            if (i < raw.length && raw[i] != '\n') {
                continue;
            }
            String line = new String(raw, lineStart, i - lineStart, StandardCharsets.ISO_8859_1).strip();
            lineStart = i + 1;
            String lower = line.toLowerCase(Locale.ROOT);
            int b = lower.indexOf("boundary=");
            if (b >= 0) {
                String boundary = boundaryOf(line.substring(b));
                if (boundary != null && !boundary.isEmpty()) {
                    open.push(boundary);
                }
            } else if (line.startsWith("--") && line.endsWith("--") && line.length() > 4) {
                String closed = line.substring(2, line.length() - 2);
                if (open.contains(closed)) {
                    while (!open.pop().equals(closed)) {
                        // levels whose own closing line is missing end with their parent
                    }
                }
            }
            if (lower.contains("message/rfc822")) {
                messages++;
            }
            if (open.size() + messages > MAX_NESTING) {
                throw new RecordProblem("MIME parts nested more than " + MAX_NESTING + " deep (" + open.size()
                        + " open multipart boundaries and " + messages + " message/rfc822 parts by line "
                        + (countLines(raw, start, i) + 1) + "): no real message nests so deep, and reading it would"
                        + " exhaust the stack");
            }
        }
    }

    private static long countLines(byte[] raw, int from, int to) {
        long n = 0;
        for (int i = from; i < to; i++) {
            if (raw[i] == '\n') {
                n++;
            }
        }
        return n;
    }

    /** mbox files begin with a {@code From sender date} separator line that is not a header. */
    private static int skipMboxLine(byte[] raw) {
        if (raw.length > 5 && raw[0] == 'F' && raw[1] == 'r' && raw[2] == 'o' && raw[3] == 'm' && raw[4] == ' ') {
            for (int i = 5; i < raw.length; i++) {
                if (raw[i] == '\n') {
                    return i + 1;
                }
            }
        }
        return 0;
    }

    private static void checkLooksLikeMail(byte[] raw, int start) throws RecordProblem {
        int controls = 0;
        int nul = 0;
        int checked = Math.min(raw.length, start + 4096);
        for (int i = start; i < checked; i++) {
            int b = raw[i] & 0xff;
            if (b == 0) {
                nul++;
            } else if (b < 0x20 && b != '\n' && b != '\r' && b != '\t') {
                controls++;
            }
        }
        // Real mail holds the odd stray control byte; binary data holds NULs or many of them.
        if (nul > 0 || controls * 20 > checked - start) {
            throw new RecordProblem(String.format(Locale.ROOT, "binary data, not an e-mail message: %d NUL and %d other"
                    + " control bytes in the first %d bytes", nul, controls, checked - start));
        }
        int colon = -1;
        for (int i = start; i < checked && raw[i] != '\n'; i++) {
            if (raw[i] == ':') {
                colon = i;
                break;
            }
            if (raw[i] == ' ' || raw[i] == '\t') {
                break;
            }
        }
        if (colon <= start) {
            throw new RecordProblem("not an RFC 822 message: the first line is not a header field such as"
                    + " 'Subject: ...' or 'From: ...'");
        }
    }
}
