import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageSource, listImageFolder, readImageList } from '../../../lib/data/images/index.js';

// shared/ sits beside the repository: <repo>/../shared/data.
const DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const SAMPLES = join(DATA, 'imagenet-samples');
const PHOTOS = join(DATA, 'sample-photos');

t.test("imagenet-samples' classes.tsv reads as it is", async (t) => {
  const s = await readImageList(join(SAMPLES, 'classes.tsv'));
  t.equal(s.paths.length, 1000);
  t.equal(s.classes.length, 1000);
  t.ok(
    s.labels.every((l, i) => l === i),
    'label = the index column',
  );
  t.equal(s.classes[0], 'tench', 'class name = the first name');
  t.equal(s.classes[2], 'great white shark');
  t.equal(s.classes[607], "jack-o'-lantern");
  t.equal(s.paths[607], join(SAMPLES, "n03590841_jack-o'-lantern.JPEG"), 'paths are relative to the list');
  t.equal(s.classes[191], 'Airedale');
  t.equal(s.classes[999], 'toilet tissue');
  t.ok(s.paths.every((p) => existsSync(p)));
  const same = await imageSource(join(SAMPLES, 'classes.tsv'));
  t.same(same.paths.slice(0, 5), s.paths.slice(0, 5), 'imageSource reads a file as a list');
});

t.test('list formats: CSV with a header and quotes, "path label" lines, absolute paths, a root folder', async (t) => {
  const dir = t.testdir({ imgs: {}, sub: {} });
  copyFileSync(join(PHOTOS, 'dog.jpg'), join(dir, 'imgs', 'dog, the good one.jpg'));
  copyFileSync(join(PHOTOS, 'kite.jpg'), join(dir, 'imgs', 'my kite.jpg'));
  copyFileSync(join(PHOTOS, 'eagle.jpg'), join(dir, 'imgs', "eagle's.jpg"));

  writeFileSync(
    join(dir, 'list.csv'),
    `image,label,class\r\n"imgs/dog, the good one.jpg",3,dog\r\nimgs/kite.jpg,1,"kite, toy"\r\n`.replace(
      'imgs/kite.jpg',
      'imgs/my kite.jpg',
    ),
  );
  const csv = await readImageList(join(dir, 'list.csv'));
  t.same(csv.paths, [join(dir, 'imgs', 'dog, the good one.jpg'), join(dir, 'imgs', 'my kite.jpg')]);
  t.same(Array.from(csv.labels), [3, 1]);
  t.same(csv.classes, ['0', 'kite', '2', 'dog'], 'classes[label], named where the list names them');

  writeFileSync(join(dir, 'train.txt'), `# Caffe's format\nimgs/my kite.jpg 4\n\n${join(dir, 'imgs', "eagle's.jpg")}   0\n`);
  const txt = await readImageList(join(dir, 'train.txt'));
  t.same(txt.paths, [join(dir, 'imgs', 'my kite.jpg'), join(dir, 'imgs', "eagle's.jpg")], 'spaces in a path; absolute paths kept');
  t.same(Array.from(txt.labels), [4, 0]);
  t.same(txt.classes, ['0', '1', '2', '3', '4']);

  writeFileSync(join(dir, 'sub', 'rel.tsv'), `my kite.jpg\t2\n`);
  const rooted = await imageSource(join(dir, 'imgs'), { list: join(dir, 'sub', 'rel.tsv') });
  t.same(rooted.paths, [join(dir, 'imgs', 'my kite.jpg')], 'with list, relative paths start from the folder argument');
});

t.test('malformed lists are ND_FORMAT errors naming the list and the line', async (t) => {
  const dir = t.testdir({});
  copyFileSync(join(PHOTOS, 'dog.jpg'), join(dir, 'dog.jpg'));
  const list = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  await t.rejects(readImageList(list('missing.txt', 'dog.jpg 0\n\ncat.jpg 1\n')), {
    code: 'ND_FORMAT',
    message: new RegExp(`image list '${join(dir, 'missing.txt')}' line 3: image file '${join(dir, 'cat.jpg')}' is missing`),
  });
  t.equal((await readImageList(join(dir, 'missing.txt'), { checkFiles: false })).paths.length, 2, 'checkFiles: false skips the check');
  t.equal((await readImageList(join(dir, 'missing.txt'), { limit: 1 })).paths.length, 2, 'with a limit only the files used are checked');
  await t.rejects(readImageList(list('neg.txt', 'dog.jpg 0\ndog.jpg -1\n')), {
    code: 'ND_FORMAT',
    message: /neg\.txt' line 2: the label of 'dog\.jpg' must be a non-negative integer( below \d+)?, got "-1"/,
  });
  // One line labelled 2e9 would otherwise build a 2e9-entry class table (minutes, gigabytes).
  const started = Date.now();
  await t.rejects(readImageList(list('huge.txt', 'dog.jpg 0\ndog.jpg 2000000000\n')), {
    code: 'ND_FORMAT',
    message: /huge\.txt' line 2: the label of 'dog\.jpg' must be a non-negative integer below 1048576, got "2000000000"/,
  });
  t.ok(Date.now() - started < 60_000, 'refused without building the class table');
  t.equal(
    (await readImageList(list('top.txt', `dog.jpg ${2 ** 20 - 1}\n`))).classes.length,
    2 ** 20,
    'the largest label allowed still reads',
  );
  await t.rejects(readImageList(list('frac.tsv', 'dog.jpg\t1.5\n')), { code: 'ND_FORMAT', message: /frac\.tsv' line 1: .*got "1\.5"/ });
  await t.rejects(readImageList(list('word.csv', 'dog.jpg,cat\n')), { code: 'ND_FORMAT', message: /word\.csv' line 1: .*got "cat"/ });
  await t.rejects(readImageList(list('nolabel.tsv', 'dog.jpg\t0\ndog.jpg\n')), {
    code: 'ND_FORMAT',
    message: /nolabel\.tsv' line 2: no label/,
  });
  await t.rejects(readImageList(list('quote.csv', 'file,label\n"dog.jpg,0\n')), {
    code: 'ND_FORMAT',
    message: /quote\.csv' line 2: an unterminated quoted field/,
  });
  await t.rejects(readImageList(list('header.tsv', 'file\twnid\ndog.jpg\tn0\n')), {
    code: 'ND_FORMAT',
    message: /line 1: the header names no label column/,
  });
  await t.rejects(readImageList(list('empty.txt', '\n# nothing\n')), { code: 'ND_FORMAT', message: /empty\.txt' is empty/ });
  await t.rejects(readImageList(join(dir, 'nope.txt')), { code: 'ND_FORMAT', message: /cannot read image list '.*nope\.txt'/ });
  await t.rejects(imageSource(join(dir, 'nowhere')), { code: 'ND_FORMAT', message: /nowhere' does not exist/ });
});

t.test('class-per-folder trees: classes sorted by name, label = position, files sorted, non-images skipped', async (t) => {
  const dir = t.testdir({ zebra: {}, apple: { nested: {} }, '.hidden': {}, mango: {}, 'README.md': 'not a class' });
  copyFileSync(join(PHOTOS, 'dog.jpg'), join(dir, 'zebra', 'b.jpg'));
  copyFileSync(join(PHOTOS, 'kite.jpg'), join(dir, 'zebra', 'A.JPEG'));
  copyFileSync(join(PHOTOS, 'eagle.jpg'), join(dir, 'apple', 'nested', 'x.jpeg'));
  copyFileSync(join(PHOTOS, 'horses.jpg'), join(dir, 'apple', 'c.png')); // a JPEG named .png: found here, decoded by content
  copyFileSync(join(PHOTOS, 'horses.jpg'), join(dir, '.hidden', 'h.jpg'));
  writeFileSync(join(dir, 'apple', 'notes.txt'), 'skip me');
  writeFileSync(join(dir, 'apple', '.DS_Store'), 'skip me');
  const s = await listImageFolder(dir);
  t.same(s.classes, ['apple', 'mango', 'zebra'], 'hidden folders and files at the root are not classes; an empty class keeps its label');
  t.same(s.paths, [
    join(dir, 'apple', 'c.png'),
    join(dir, 'apple', 'nested', 'x.jpeg'),
    join(dir, 'zebra', 'A.JPEG'),
    join(dir, 'zebra', 'b.jpg'),
  ]);
  t.same(Array.from(s.labels), [0, 0, 2, 2]);
  const empty = t.testdir({ a: {}, b: {} });
  mkdirSync(join(empty, 'c'));
  await t.rejects(listImageFolder(empty), { code: 'ND_FORMAT', message: /holds no images.*3 class folders/ });
  await t.rejects(listImageFolder(join(dir, 'README.md')), { code: 'ND_FORMAT', message: /cannot read image folder/ });
});

t.test('a symlink back to a parent folder does not list images again and again', async (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, 'dog', 'sub'), { recursive: true });
  mkdirSync(join(dir, 'kite'));
  copyFileSync(join(PHOTOS, 'dog.jpg'), join(dir, 'dog', 'a.jpg'));
  copyFileSync(join(PHOTOS, 'dog.jpg'), join(dir, 'dog', 'sub', 'b.jpg'));
  copyFileSync(join(PHOTOS, 'kite.jpg'), join(dir, 'kite', 'k.jpg'));
  symlinkSync('..', join(dir, 'dog', 'sub', 'loop'));
  // A link to another class folder is followed: that is a folder not being walked.
  symlinkSync(join(dir, 'kite'), join(dir, 'dog', 'kites'));
  const s = await listImageFolder(dir);
  t.same(s.classes, ['dog', 'kite']);
  t.same(
    s.paths.map((p) => p.slice(dir.length + 1)),
    ['dog/a.jpg', 'dog/kites/k.jpg', 'dog/sub/b.jpg', 'kite/k.jpg'],
    'each image once per real folder path; the loop to dog/ is not entered',
  );
  t.same(Array.from(s.labels), [0, 0, 0, 1]);
});
