<?php
/*
 * php-wasm-server sandbox demo: what a PHP script can see from inside the sandbox.
 */
$name = isset($_GET['name']) && $_GET['name'] !== '' ? $_GET['name'] : 'visitor';
$listing = @scandir('/') ?: [];
$env = array_keys(getenv() ?: []);
sort($env);
$passwd = @file_get_contents('/etc/passwd');
function h($s) { return htmlspecialchars((string) $s, ENT_QUOTES, 'UTF-8'); }
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>php-wasm-server sandbox</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main>
<h1>Hello, <?= h($name) ?>!</h1>
<p class="when">It is <?= h(date('l, j F Y, H:i:s T')) ?>.</p>

<h2>This PHP</h2>
<table>
<tr><th>PHP version</th><td><?= h(PHP_VERSION) ?></td></tr>
<tr><th>Platform</th><td><?= h(PHP_OS . ' / ' . php_uname('m')) ?> (WebAssembly)</td></tr>
<tr><th>SAPI</th><td><?= h(PHP_SAPI) ?></td></tr>
<tr><th>Server</th><td><?= h($_SERVER['SERVER_SOFTWARE'] ?? '') ?></td></tr>
<tr><th>opcache</th><td><?= function_exists('opcache_get_status') && opcache_get_status(false) ? 'on' : 'off' ?></td></tr>
</table>

<h2>Environment variables the script can see</h2>
<p><?= $env ? h(implode(', ', $env)) : '<em>none</em>' ?></p>

<h2>The filesystem root, as PHP sees it</h2>
<ul class="listing">
<?php foreach ($listing as $entry): if ($entry === '.' || $entry === '..') continue; ?>
<li><?= h($entry) ?></li>
<?php endforeach; ?>
</ul>
<p>Reading <code>/etc/passwd</code>: <?= $passwd === false ? '<strong>nothing</strong> — the host is not visible' : h(strlen($passwd) . ' bytes') ?>.</p>

<form method="get"><label>Your name <input name="name" value="<?= h($name === 'visitor' ? '' : $name) ?>"></label> <button>Greet me</button></form>
</main>
</body>
</html>
