package dev.sparktune.clean;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The character-level cleaning of one string, in this order: MIME leftovers, HTML, Unicode NFKC, control
 * characters, whitespace. Each step is a static function so tests can check it alone.
 */
public final class TextNormalizer {
    private static final Pattern MIME_HEADER = Pattern.compile(
            "(?im)^(?:content-(?:type|transfer-encoding|disposition|id|description|language)|mime-version)"
                    + ":[^\\n]*+(?:\\n[ \\t]++[^\\n]*+)*+\\n?"); // possessive: no stack per folded line
    /** A multipart boundary line: "--" then a token with at least one letter, digit or '=' (not a "-----" rule). */
    private static final Pattern MIME_BOUNDARY = Pattern.compile(
            "(?m)^--(?=[^\\n]*[A-Za-z0-9_=])[A-Za-z0-9'()+_,\\-./:=?]{6,}[ \\t]*\\n?");
    private static final Pattern MIME_PREAMBLE = Pattern.compile(
            "(?im)^this is a multi-part message in mime format\\.?[ \\t]*\\n?");
    private static final Pattern QP_SOFT_BREAK = Pattern.compile("=\\n");
    /** A line a quoted-printable encoder wrapped: 76 characters at most including the '=', and near that long. */
    private static final Pattern QP_WRAPPED_LINE = Pattern.compile("(?m)^[^\\n]{60,75}=$");
    private static final Pattern QP_ESCAPES = Pattern.compile("(?:=[0-9A-F]{2})+");
    private static final Pattern INNER_SPACES = Pattern.compile("(?<=\\S)[ \\t]{2,}|(?<=\\S)\\t");
    private static final Pattern TRAILING_SPACES = Pattern.compile("(?m)[ \\t]+$");
    private static final Pattern BLANK_LINES = Pattern.compile("\\n{3,}");

    private TextNormalizer() {
    }

    /** All steps; {@code stripHtml} turns the HTML step off for data that legitimately contains markup. */
    public static String normalize(String s, boolean stripHtml) {
        String t = unifyLineBreaks(s);
        t = stripMimeLeftovers(t);
        if (stripHtml) {
            t = HtmlText.strip(t);
        }
        t = nfkc(t);
        t = removeControlCharacters(t);
        return normalizeWhitespace(t);
    }

    /** Full-width letters, digits and punctuation become ASCII, ligatures split, compatibility forms unified. */
    public static String nfkc(String s) {
        return Normalizer.isNormalized(s, Normalizer.Form.NFKC) ? s : Normalizer.normalize(s, Normalizer.Form.NFKC);
    }

    /** CR LF, CR, NEL and the Unicode line and paragraph separators become LF. */
    static String unifyLineBreaks(String s) {
        if (s.indexOf('\r') < 0 && s.indexOf('\u0085') < 0 && s.indexOf('\u2028') < 0 && s.indexOf('\u2029') < 0) {
            return s;
        }
        return s.replace("\r\n", "\n").replace('\r', '\n').replace('\u0085', '\n')
                .replace('\u2028', '\n').replace('\u2029', '\n');
    }

    /**
     * What a MIME decoder left behind in a body: part headers, boundary lines, the multipart preamble, and
     * quoted-printable encoding (decoded only when a line wrapped the way encoders wrap, near 76 characters with a
     * trailing '=', shows the text really is quoted-printable; {@code const x =} at a line end in code is not).
     */
    public static String stripMimeLeftovers(String s) {
        String t = unifyLineBreaks(s);
        t = MIME_HEADER.matcher(t).replaceAll("");
        t = MIME_BOUNDARY.matcher(t).replaceAll("");
        t = MIME_PREAMBLE.matcher(t).replaceAll("");
        if (QP_WRAPPED_LINE.matcher(t).find()) {
            t = decodeQuotedPrintable(QP_SOFT_BREAK.matcher(t).replaceAll(""));
        }
        return t;
    }

    private static String decodeQuotedPrintable(String s) {
        Matcher m = QP_ESCAPES.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        while (m.find()) {
            String run = m.group();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(run.length() / 3);
            for (int i = 0; i < run.length(); i += 3) {
                bytes.write(Integer.parseInt(run, i + 1, i + 3, 16));
            }
            m.appendReplacement(out, Matcher.quoteReplacement(bytes.toString(StandardCharsets.UTF_8)));
        }
        m.appendTail(out);
        return out.toString();
    }

    /**
     * Drops C0/C1 controls other than tab and line feed, zero-width space, word joiner, byte-order mark, soft
     * hyphen, the replacement character and non-characters. Zero-width (non-)joiners stay: Persian and Indic
     * scripts and emoji sequences need them.
     */
    public static String removeControlCharacters(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int n = Character.charCount(cp);
            boolean drop = isDropped(cp);
            if (drop && out == null) {
                out = new StringBuilder(s.length()).append(s, 0, i);
            } else if (!drop && out != null) {
                out.appendCodePoint(cp);
            }
            i += n;
        }
        return out == null ? s : out.toString();
    }

    private static boolean isDropped(int cp) {
        if (cp == '\n' || cp == '\t') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.SURROGATE
                || cp == 0x200B || cp == 0x2060 || cp == 0xFEFF || cp == 0x00AD || cp == 0xFFFD
                || (cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF);
    }

    /**
     * Runs of spaces and tabs inside a line become one space, trailing spaces go, more than one blank line
     * becomes one, and the ends are trimmed. Leading indentation is kept because code in answers needs it.
     */
    public static String normalizeWhitespace(String s) {
        String t = INNER_SPACES.matcher(s).replaceAll(" ");
        t = TRAILING_SPACES.matcher(t).replaceAll("");
        t = BLANK_LINES.matcher(t).replaceAll("\n\n");
        return t.strip();
    }
}
