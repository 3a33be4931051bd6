/*
 * SwarmClient.java - Swarm's wire contract from Java (kafka-clients + Apache
 * Avro): a producer of inference requests and a reader of their responses.
 *
 *   SwarmClient produce -b BROKERS --input test.npy [--limit N] [--topic T]
 *       [--model fashion] [--rows-per-request R] [--id-prefix P]
 *       [--registry URL] [--schemas DIR]
 *   SwarmClient read -b BROKERS --expect ROWS --output predictions.npy
 *       [--topic T] [--id-prefix P] [--timeout S] [--registry URL]
 *
 * Values are Confluent-framed Avro (magic byte 0, 4-byte big-endian schema
 * id, Avro binary) with the schemas from schemas/*.avsc.  With --registry the
 * request schema is registered under "<topic>-value" and records carry the
 * registry's id; response ids other than Swarm's fixed 2 are fetched from it
 * (GET /schemas/ids/{id}) and resolved against our reader schema.
 */
package io.swarm.examples;

import java.io.*;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.regex.*;

import org.apache.avro.Schema;
import org.apache.avro.generic.*;
import org.apache.avro.io.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.serialization.*;

public final class SwarmClient {
    static Map<String, String> args(String[] a, int from) {
        Map<String, String> m = new HashMap<>();
        for (int i = from; i < a.length; i++) {
            if (!a[i].startsWith("-") || i + 1 >= a.length)
                throw new IllegalArgumentException("bad argument " + a[i]);
            m.put(a[i].replaceFirst("^--?", ""), a[++i]);
        }
        return m;
    }

    static String schemaText(Map<String, String> o, String name) throws IOException {
        return Files.readString(Path.of(o.getOrDefault("schemas", "schemas"), name + ".avsc"));
    }

    /* ---- Schema Registry (Confluent REST) ---- */

    static String http(String url, String body) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        c.setConnectTimeout(10000);
        c.setReadTimeout(10000);
        c.setRequestProperty("Accept", "application/vnd.schemaregistry.v1+json");
        if (body != null) {
            c.setDoOutput(true);
            c.setRequestMethod("POST");
            c.setRequestProperty("Content-Type", "application/vnd.schemaregistry.v1+json");
            c.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
        }
        if (c.getResponseCode() != 200)
            throw new IOException(url + ": HTTP " + c.getResponseCode());
        try (InputStream in = c.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') b.append('\\').append(ch);
            else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
            else b.append(ch);
        }
        return b.append('"').toString();
    }

    static int register(String registry, String subject, String schema) throws IOException {
        String r = http(registry + "/subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8)
                        + "/versions", "{\"schema\":" + jsonString(schema) + "}");
        Matcher m = Pattern.compile("\"id\"\\s*:\\s*(\\d+)").matcher(r);
        if (!m.find()) throw new IOException("no id in " + r);
        return Integer.parseInt(m.group(1));
    }

    static Schema fetch(String registry, int id) throws IOException {
        String r = http(registry + "/schemas/ids/" + id, null);
        // the reply is {"schema": "<escaped JSON>"}: let Avro's JSON parser
        // unescape it by reading it as a one-field record
        Schema wrap = new Schema.Parser().parse(
                "{\"type\":\"record\",\"name\":\"W\",\"fields\":[{\"name\":\"schema\",\"type\":\"string\"}]}");
        JsonDecoder d = DecoderFactory.get().jsonDecoder(wrap,
                r.replaceAll(",\\s*\"schemaType\"\\s*:\\s*\"[A-Z]+\"", "")
                 .replaceAll(",\\s*\"references\"\\s*:\\s*\\[\\s*\\]", ""));
        GenericRecord g = new GenericDatumReader<GenericRecord>(wrap).read(null, d);
        return new Schema.Parser().parse(g.get("schema").toString());
    }

    /* ---- .npy (format 1.0, little-endian float32, C order) ---- */

    static float[][] readNpy(String path) throws IOException {
        byte[] all = Files.readAllBytes(Path.of(path));
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        if (all.length < 10 || all[0] != (byte) 0x93 || all[6] != 1)
            throw new IOException(path + ": not a .npy v1 file");
        int hlen = b.getShort(8) & 0xffff;
        String h = new String(all, 10, hlen, StandardCharsets.US_ASCII);
        if (!h.contains("'<f4'") || h.contains("'fortran_order': True"))
            throw new IOException(path + ": need little-endian float32, C order");
        Matcher m = Pattern.compile("\\((\\d+),\\s*(\\d+)\\)").matcher(h);
        if (!m.find()) throw new IOException(path + ": need a 2-D array");
        int rows = Integer.parseInt(m.group(1)), cols = Integer.parseInt(m.group(2));
        if ((long) rows * cols * 4 > all.length - 10 - hlen) throw new IOException(path + ": truncated");
        float[][] x = new float[rows][cols];
        b.position(10 + hlen);
        for (float[] r : x) for (int j = 0; j < cols; j++) r[j] = b.getFloat();
        return x;
    }

    static void writeNpy(String path, List<float[]> rows, int cols) throws IOException {
        String h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows.size() + ", " + cols + "), }";
        int pad = 64 - (10 + h.length() + 1) % 64;
        h = h + " ".repeat(pad % 64) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + h.length() + rows.size() * cols * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) h.length()).put(h.getBytes(StandardCharsets.US_ASCII));
        for (float[] r : rows) for (float v : r) b.putFloat(v);
        Files.write(Path.of(path), b.array());
    }

    /* ---- framing ---- */

    static byte[] frame(int id, Schema s, GenericRecord rec) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder e = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(s).write(rec, e);
        e.flush();
        return out.toByteArray();
    }

    static int produce(Map<String, String> o) throws Exception {
        String topic = o.getOrDefault("topic", "requests"), prefix = o.getOrDefault("id-prefix", "java-");
        String text = schemaText(o, "InferenceRequest");
        Schema req = new Schema.Parser().parse(text);
        Schema tensor = req.getField("inputs").schema().getElementType();
        int id = o.containsKey("registry") ? register(o.get("registry"), topic + "-value", text) : 1;
        float[][] x = readNpy(o.get("input"));
        int n = Math.min(x.length, Integer.parseInt(o.getOrDefault("limit", "0")) > 0
                ? Integer.parseInt(o.get("limit")) : x.length);
        int per = Integer.parseInt(o.getOrDefault("rows-per-request", "1")), sent = 0;
        Properties p = new Properties();
        p.put("bootstrap.servers", o.get("b"));
        p.put("linger.ms", "5");
        try (Producer<byte[], byte[]> pr = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<java.util.concurrent.Future<RecordMetadata>> acks = new ArrayList<>();
            for (int i = 0; i < n; i += per) {
                int rows = Math.min(per, n - i), cols = x[0].length;
                ByteBuffer data = ByteBuffer.allocate(rows * cols * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (int r = 0; r < rows; r++) for (float v : x[i + r]) data.putFloat(v);
                data.flip();
                GenericRecord t = new GenericData.Record(tensor);
                t.put("name", "input");
                t.put("dtype", new GenericData.EnumSymbol(tensor.getField("dtype").schema(), "FLOAT32"));
                t.put("shape", Arrays.asList((long) rows, (long) cols));
                t.put("data", data);
                GenericRecord r = new GenericData.Record(req);
                r.put("request_id", prefix + i);
                r.put("model", o.getOrDefault("model", "fashion"));
                r.put("inputs", List.of(t));
                r.put("metadata", Map.of("client", "java"));
                acks.add(pr.send(new ProducerRecord<>(topic, frame(id, req, r))));
                sent++;
            }
            for (var f : acks) f.get();
        }
        System.out.println("sent=" + sent + " rows=" + n + " schema_id=" + id + " topic=" + topic);
        return 0;
    }

    static int read(Map<String, String> o) throws Exception {
        String topic = o.getOrDefault("topic", "results"), prefix = o.getOrDefault("id-prefix", "java-");
        Schema resp = new Schema.Parser().parse(schemaText(o, "InferenceResponse"));
        Map<Integer, Schema> writers = new HashMap<>(Map.of(2, resp));
        int expect = Integer.parseInt(o.get("expect"));
        long end = System.currentTimeMillis() + 1000L * Integer.parseInt(o.getOrDefault("timeout", "120"));
        Properties p = new Properties();
        p.put("bootstrap.servers", o.get("b"));
        p.put("group.id", "java-results-" + UUID.randomUUID());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        TreeMap<Integer, float[][]> rows = new TreeMap<>();
        Map<String, Integer> status = new TreeMap<>();
        int got = 0, cols = 0;
        try (Consumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            while (got < expect && System.currentTimeMillis() < end) {
                for (ConsumerRecord<byte[], byte[]> m : c.poll(Duration.ofMillis(500))) {
                    byte[] v = m.value();
                    if (v == null || v.length < 5 || v[0] != 0) continue;
                    int id = ByteBuffer.wrap(v, 1, 4).getInt();
                    if (!writers.containsKey(id)) {
                        if (!o.containsKey("registry")) continue;
                        writers.put(id, fetch(o.get("registry"), id));
                    }
                    Decoder d = DecoderFactory.get().binaryDecoder(v, 5, v.length - 5, null);
                    GenericRecord r = new GenericDatumReader<GenericRecord>(writers.get(id), resp).read(null, d);
                    String rid = r.get("request_id").toString();
                    if (!rid.startsWith(prefix)) continue;
                    int idx = Integer.parseInt(rid.substring(prefix.length()));
                    if (rows.containsKey(idx)) continue;
                    status.merge(r.get("status").toString(), 1, Integer::sum);
                    @SuppressWarnings("unchecked")
                    List<GenericRecord> outs = (List<GenericRecord>) r.get("outputs");
                    if (outs.isEmpty()) { rows.put(idx, new float[0][]); got++; continue; }
                    GenericRecord t = outs.get(0);
                    @SuppressWarnings("unchecked")
                    List<Long> shape = (List<Long>) t.get("shape");
                    int nr = shape.get(0).intValue();
                    cols = shape.get(1).intValue();
                    ByteBuffer b = ((ByteBuffer) t.get("data")).order(ByteOrder.LITTLE_ENDIAN);
                    float[][] y = new float[nr][cols];
                    for (float[] yr : y) for (int j = 0; j < cols; j++) yr[j] = b.getFloat();
                    rows.put(idx, y);
                    got += nr;
                }
            }
        }
        if (got < expect) {
            System.err.println("read: " + got + " of " + expect + " rows");
            return 1;
        }
        List<float[]> all = new ArrayList<>();
        for (float[][] y : rows.values()) all.addAll(Arrays.asList(y));
        writeNpy(o.get("output"), all, cols);
        StringBuilder s = new StringBuilder();
        status.forEach((k, v) -> s.append(' ').append(k).append('=').append(v));
        System.out.println("answered=" + rows.size() + " rows=" + got + s);
        return status.keySet().equals(Set.of("OK")) ? 0 : 1;
    }

    public static void main(String[] a) throws Exception {
        if (a.length < 1 || !(a[0].equals("produce") || a[0].equals("read"))) {
            System.err.println("usage: SwarmClient produce|read OPTIONS (see the source's header)");
            System.exit(2);
        }
        Map<String, String> o = args(a, 1);
        System.exit(a[0].equals("produce") ? produce(o) : read(o));
    }
}
